//! A multi-producer, multi-consumer priority queue for job runners.
//!
//! ```
//! use std::thread;
//! use stanchion_queue::{Fairness, Priority, PriorityQueue};
//!
//! let queue = PriorityQueue::builder()
//!     .capacity(Some(1024))
//!     .fairness(Fairness::Weighted(vec![6, 3, 1]))
//!     .build()?;
//!
//! let producer = queue.clone();
//! let worker = thread::spawn(move || {
//!     let mut done = 0;
//!     while let Some((job, _priority)) = queue.pop() {
//!         done += job;
//!     }
//!     done // the queue was closed and drained
//! });
//! for job in 1..=100 {
//!     producer.push(job, if job % 10 == 0 { Priority::High } else { Priority::Normal }).unwrap();
//! }
//! producer.close();
//! assert_eq!(worker.join().unwrap(), 5050);
//! # Ok::<(), stanchion_queue::ConfigError>(())
//! ```
//!
//! - **Levels**: 3 by default (`High`, `Normal`, `Low`), up to 64 (`Priority::Level(n)`).
//! - **Order**: FIFO within a level for the items of one producer.
//! - **Fairness**: [`Fairness::Strict`] always serves the most urgent non-empty level;
//!   [`Fairness::Weighted`] serves levels in proportion to their weights so Low cannot starve.
//! - **Backpressure**: with a capacity (per level), `try_push` hands the item back in
//!   [`PushError::Full`]; `push` and `push_async` wait for room.
//! - **Waiting**: `pop`, `pop_timeout` and `pop_async` park until an item or the end comes (the
//!   blocking calls after a brief spin, the async ones after a few yields to the executor); a push
//!   between a consumer's last look and its parking wakes it.
//! - **Close**: pushes fail with [`PushError::Closed`]; consumers drain what is left, then see the end.
//!
//! Each bounded level is a lock-free ring of our own on cache lines of its own, which a batch pop
//! claims many places of at once; pushes and pops call the wake-up event only when someone is
//! parked; counters are striped over padded cache lines. The guide (`docs/queue.md`) states every guarantee.
#![warn(missing_docs)]
#![deny(unsafe_code)]

mod error;
#[allow(unsafe_code)] // The ring's places: each block says why it is sound.
mod fifo;
mod priority;
mod queue;
mod sync;

pub use error::{ConfigError, PopError, PushError};
pub use priority::Priority;
pub use queue::{
    Fairness, LevelStats, MAX_CAPACITY, MAX_LEVELS, PriorityQueue, QueueBuilder, Stats,
};

// The examples in the README and the guide run as doctests, so they cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
#[doc = include_str!("../../../docs/queue.md")]
struct DocumentationExamples;
