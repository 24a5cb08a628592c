//! A bounded, lock-free, multi-producer ring of log records, with a flusher thread that drains it
//! in batches into a sink, and (feature `tracing`) a `tracing_subscriber::Layer` in front of it.
//!
//! Producers copy a record (level, target, timestamp, message bytes) into a pre-allocated slot:
//! no allocation, no lock, no system call on the path a program logs from. With
//! [`lanes`](LogRingBuilder::lanes) the producers spread over rings of their own, so that
//! threads logging at once never contend, and the consumer takes the records of all lanes in
//! timestamp order. A full ring does what
//! its [`Overflow`] policy says: wait ([`Block`](Overflow::Block)), drop the new record
//! ([`DropNewest`](Overflow::DropNewest), the default) or drop the oldest
//! ([`DropOldest`](Overflow::DropOldest)); every drop is counted. A [`Flusher`] thread drains the
//! ring into a [`Sink`] ([`WriterSink`], [`FileSink`] with size-based rotation, [`FnSink`], or
//! your own), in batches of up to `max_batch` records and at least every `max_delay`, handing the
//! sink each record straight from its slot (except under `DropOldest`); dropping its
//! [`FlushGuard`] writes out everything pushed before and joins the thread, waiting at most a
//! configured timeout.
//!
//! ```
//! use std::time::Duration;
//! use stanchion_ring::{FlushPolicy, Flusher, Level, LogRing, Overflow, Record, WriterSink};
//!
//! let (producer, consumer) = LogRing::builder()
//!     .capacity(4096)
//!     .overflow(Overflow::DropOldest)
//!     .build()
//!     .unwrap();
//! let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
//! let sink = stanchion_ring::FnSink::new({
//!     let out = out.clone();
//!     move |batch: &stanchion_ring::Batch| {
//!         out.lock().unwrap().extend(batch.iter().map(|r| r.message.to_vec()));
//!         Ok(())
//!     }
//! });
//! let guard = Flusher::spawn(consumer, sink, FlushPolicy::default()).unwrap();
//!
//! producer.push(Record::new(Level::Info, "app", b"hello")).unwrap();
//! drop(guard); // flushes everything pushed before, then joins
//! assert_eq!(out.lock().unwrap().as_slice(), [b"hello".to_vec()]);
//! ```
#![warn(missing_docs)]

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod error;
#[cfg(not(stanchion_loom))]
mod flusher;
#[cfg(all(feature = "tracing", not(stanchion_loom)))]
mod layer;
mod queue;
mod record;
mod ring;
#[cfg(not(stanchion_loom))]
mod sink;
mod stats;
mod sync;

pub use error::{ConfigError, PushError, ShutdownError};
#[cfg(not(stanchion_loom))]
pub use flusher::{FlushGuard, FlushPolicy, Flusher};
#[cfg(all(feature = "tracing", not(stanchion_loom)))]
pub use layer::RingLayer;
pub use record::{Batch, Level, Record, Timestamp};
pub use ring::{Consumer, LogRing, LogRingBuilder, Overflow, Producer};
#[cfg(not(stanchion_loom))]
pub use sink::{FileSink, FnSink, LineFormat, Sink, WriterSink};
pub use stats::RingStats;
