//! A concurrent, bounded cache: high hit ratio, expiry, single-flight loads, invalidation, stats.
//!
//! ```
//! use std::time::Duration;
//! use stanchion_cache::Cache;
//!
//! let cache: Cache<String, String> = Cache::builder()
//!     .max_capacity(10_000)
//!     .time_to_live(Duration::from_secs(60))
//!     .build()?;
//!
//! let answer = cache.get_or_insert_with("lint:src/main.rs".into(), || "ok".into());
//! assert_eq!(answer, "ok");
//! cache.invalidate_prefix("lint:");
//! assert!(cache.get("lint:src/main.rs").is_none());
//! # Ok::<(), stanchion_cache::ConfigError>(())
//! ```
//!
//! - **Bounded** by entries or by weight; it never holds more. Keys are spread over shards, each
//!   with its own lock and its own share of the capacity; an entry may weigh up to the whole
//!   `max_weight`, borrowing capacity from the other shards.
//! - **Policy**: S3-FIFO (a small probation FIFO, a main CLOCK, a ghost of recently evicted
//!   keys) with a TinyLFU frequency sketch deciding whether a returning key may displace a main
//!   entry. Reads only bump counters in their own entry (the sketch hears of them later), so they
//!   are cheap under a lock; see `docs/cache.md` for the hit ratios on real traces that chose it.
//! - **Expiry**: time to live (per cache or per entry) and time to idle, measured with an
//!   injected [`Clock`](stanchion_core::Clock). An expired entry is never returned; it is
//!   collected when touched or when the policy reaches it, and the clock is read only for entries
//!   that can expire.
//! - **Single flight**: [`Cache::get_or_insert_with`] and its fallible and async forms run one
//!   loader per missing key; a panicking or cancelled loader hands over to a waiter.
//! - **Invalidation** of a key, a prefix or a predicate; an eviction listener told the
//!   [`RemovalCause`]; [`CacheStats`] counted under the shard locks, free on the hot path.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod builder;
mod cache;
mod error;
mod flight;
mod ghost;
mod shard;
mod sketch;
mod stats;
mod sync;

pub use builder::CacheBuilder;
pub use cache::Cache;
pub use error::{ConfigError, InsertError};
pub use stats::{CacheStats, RemovalCause};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
