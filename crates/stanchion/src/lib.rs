//! Fast, tested building blocks for hook and job runtimes.
//!
//! `stanchion` is a facade: it holds no logic, only re-exports of the `stanchion-*` microcrates,
//! each behind a feature of the same name, so a program can depend on one crate or on all of them
//! through one line. Depending on a microcrate directly (`stanchion-core = "0.1"`) is equally
//! supported and compiles less.
//!
//! # Crates
//!
//! | path | crate | feature | what it is |
//! |---|---|---|---|
//! | [`stanchion::core`](crate::core) | `stanchion-core` | always | the injectable [`Clock`](crate::core::Clock), shared small types |
//! | `stanchion::breaker` | `stanchion-breaker` | `breaker` | circuit breaker with resilience4j semantics: windows, half-open permits, events |
//! | `stanchion::bus` | `stanchion-bus` | `bus` | typed event bus: exact capacity, per-topic overflow policies, batching, sync and async subscribers, patterns |
//! | `stanchion::cache` | `stanchion-cache` | `cache` | concurrent bounded cache: S3-FIFO policy, TTL/TTI, single-flight loads, invalidation, stats |
//! | `stanchion::dag` | `stanchion-dag` | `dag` | pipeline DAG validation by Kahn's sort: every error named, levels, ready set |
//! | `stanchion::hooks` | `stanchion-hooks` | `hooks` | hook registry and executor: priorities, waterfall and parallel runs, enforced timeouts, a breaker per hook, result cache, latency metrics, bus events |
//! | `stanchion::queue` | `stanchion-queue` | `queue` | MPMC priority queue: levels, fairness, backpressure, close |
//! | `stanchion::store` | `stanchion-store` | `store` | job storage: one `JobStore` contract with leases and attempt fencing; memory, redb and (feature `postgres` of `stanchion-store`) PostgreSQL adapters; conformance suite |
//! | `stanchion::ring` | `stanchion-ring` | `ring` | lock-free log ring: overflow policies, batched flusher, file and writer sinks, tracing layer |
//!
//! # Features
//!
//! | feature | enables |
//! |---|---|
//! | `default` | nothing beyond `core` |
//! | `breaker` | `stanchion::breaker` (with serde support for its configuration) |
//! | `bus` | `stanchion::bus` |
//! | `cache` | `stanchion::cache` |
//! | `dag` | `stanchion::dag` (with its petgraph interop) |
//! | `hooks` | `stanchion::hooks` |
//! | `queue` | `stanchion::queue` |
//! | `ring` | `stanchion::ring` (with its tracing layer) |
//! | `store` | `stanchion::store` |
//! | `full` | every crate |
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use stanchion::prelude::*;
//!
//! let clock = ManualClock::new();
//! let start = clock.now();
//! clock.advance(Duration::from_secs(1));
//! assert_eq!(clock.now() - start, Duration::from_secs(1));
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "breaker")]
#[doc(inline)]
pub use stanchion_breaker as breaker;
#[cfg(feature = "bus")]
#[doc(inline)]
pub use stanchion_bus as bus;
#[cfg(feature = "cache")]
#[doc(inline)]
pub use stanchion_cache as cache;
#[doc(inline)]
pub use stanchion_core as core;
#[cfg(feature = "dag")]
#[doc(inline)]
pub use stanchion_dag as dag;
#[cfg(feature = "hooks")]
#[doc(inline)]
pub use stanchion_hooks as hooks;
#[cfg(feature = "queue")]
#[doc(inline)]
pub use stanchion_queue as queue;
#[cfg(feature = "ring")]
#[doc(inline)]
pub use stanchion_ring as ring;
#[cfg(feature = "store")]
#[doc(inline)]
pub use stanchion_store as store;

/// The types most programs name, for a glob import.
pub mod prelude {
    #[cfg(feature = "breaker")]
    #[doc(no_inline)]
    pub use crate::breaker::{BreakerConfig, CallError, CircuitBreaker, Rejected};
    #[cfg(feature = "bus")]
    #[doc(no_inline)]
    pub use crate::bus::{EventBus, Overflow, Topic, TopicConfig};
    #[cfg(feature = "cache")]
    #[doc(no_inline)]
    pub use crate::cache::Cache;
    #[doc(no_inline)]
    pub use crate::core::{Clock, ManualClock, SystemClock};
    #[cfg(feature = "dag")]
    #[doc(no_inline)]
    pub use crate::dag::{Dag, DagBuilder, ReadySet};
    #[cfg(feature = "hooks")]
    #[doc(no_inline)]
    pub use crate::hooks::{Action, Hook, HookExecutor, HookOptions, HookRegistry, HookResult};
    #[cfg(feature = "queue")]
    #[doc(no_inline)]
    pub use crate::queue::{Priority, PriorityQueue};
    #[cfg(feature = "ring")]
    #[doc(no_inline)]
    pub use crate::ring::{FlushPolicy, Flusher, LogRing};
    #[cfg(feature = "store")]
    #[doc(no_inline)]
    pub use crate::store::{JobStore, MemoryStore, NewJob, RedbStore};
}
