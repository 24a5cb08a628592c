//! A typed event bus: named topics with an exact capacity and a per-topic overflow policy,
//! batched publishing, blocking and async subscribers, and pattern subscriptions over topic names.
//!
//! Each topic is one ring of events that all its subscribers read at their own cursor:
//! an event is stored once, whatever the number of subscribers, and receiving takes no lock and
//! writes only the subscriber's own cache line. When the slowest subscriber already holds
//! `capacity` unread events, the topic's [`Overflow`] policy decides:
//!
//! | policy | the publisher | subscribers |
//! |---|---|---|
//! | [`Block`](Overflow::Block) | waits (blocking or async); `try_` gets the event back | lose nothing |
//! | [`DropOldest`](Overflow::DropOldest) | never waits | a laggard loses its oldest and is told: `Lagged(n)` |
//! | [`DropNewest`](Overflow::DropNewest) | never waits; the event is dropped and counted | lose the dropped events |
//! | [`Error`](Overflow::Error) | never waits; gets the event back as `Full` | lose nothing |
//!
//! Every subscriber sees the events it did not lose in publish order (a total order per topic,
//! so also per publisher). Dropping a subscriber never blocks a publisher.
//!
//! ```
//! use stanchion_bus::{EventBus, Overflow, RecvError, TopicConfig};
//!
//! let bus = EventBus::new();
//! let progress = bus
//!     .topic::<u32>("job.progress", TopicConfig::new(2, Overflow::DropOldest))
//!     .unwrap();
//! let mut slow = progress.subscribe();
//!
//! progress.try_publish_batch([10, 20, 30, 40]).unwrap();
//! assert_eq!(slow.recv_blocking(), Err(RecvError::Lagged(2))); // told exactly what it lost
//! assert_eq!(slow.recv_blocking(), Ok(30));
//! assert_eq!(slow.recv_blocking(), Ok(40));
//!
//! progress.close();
//! assert_eq!(slow.recv_blocking(), Err(RecvError::Closed));
//! assert_eq!(progress.stats().lagged, 2);
//! ```
//!
//! Async code awaits [`Topic::publish`] and [`Subscriber::recv`], or uses a subscriber as a
//! [`Stream`](futures_core::Stream).
#![warn(missing_docs)]

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod bus;
mod config;
mod error;
mod pattern;
mod ring;
mod stats;
mod subscriber;
mod sync;
mod topic;

pub use bus::{EventBus, Routed};
pub use config::{Overflow, TopicConfig};
pub use error::{BusError, ConfigError, Lagged, PublishError, RecvError, TryRecvError};
pub use stats::TopicStats;
pub use subscriber::Subscriber;
pub use topic::Topic;
