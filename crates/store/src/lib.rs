//! Job storage for job runners: one [`JobStore`] contract (insert, list, atomic leased claims,
//! heartbeats, completions fenced by attempt, retries, cancellation, rescue of expired leases),
//! the adapters that implement it, and the [`conformance`] suite every adapter runs unchanged.
//!
//! Adapters: [`MemoryStore`] for tests and small programs. The embedded redb adapter and the
//! PostgreSQL adapter for many worker machines are the next pieces of this crate.
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
mod store;

pub use job::{Job, JobId, JobState, Lease, NewJob};
pub use memory::MemoryStore;
pub use store::{JobStore, ListFilter, Page, StoreError};
