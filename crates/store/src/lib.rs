//! Job storage for job runners: one [`JobStore`] contract (insert, list, atomic leased claims,
//! heartbeats, completions fenced by attempt, retries, cancellation, rescue of expired leases),
//! the adapters that implement it, and the [`conformance`] suite every adapter runs unchanged.
//!
//! Adapters:
//! - [`MemoryStore`], for tests and small programs;
//! - `RedbStore` (feature `redb`, on by default), the embedded default: one crash-safe file,
//!   group commit, a read-through cache;
//! - `PostgresStore` (feature `postgres`), for many worker machines sharing one queue:
//!   `FOR UPDATE SKIP LOCKED` claims, LISTEN/NOTIFY wake-ups.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use stanchion_store::{JobState, JobStore, MemoryStore, NewJob, StoreError};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! store.insert(NewJob::new("resize", b"img-1".to_vec()).priority(5)).await.unwrap();
//! let job = store.claim("worker-a", 1, Duration::from_secs(30)).await.unwrap().remove(0);
//! assert_eq!((job.state, job.attempt), (JobState::Running, 1));
//!
//! // A failed attempt is retried later; the stale attempt number is refused afterwards.
//! store.fail(job.id, 1, "timeout", SystemTime::now()).await.unwrap();
//! assert!(matches!(store.complete(job.id, 1).await, Err(StoreError::Conflict { .. })));
//! # });
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod job;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redb")]
mod redb_store;
mod store;

pub use job::{Job, JobId, JobState, Lease, NewJob};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresStore, PostgresStoreBuilder};
#[cfg(feature = "redb")]
pub use redb_store::{RedbStats, RedbStore, RedbStoreBuilder};
pub use store::{JobStore, ListFilter, Page, StoreError};
