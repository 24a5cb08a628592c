//! Synchronization primitives from loom under `--cfg stanchion_loom`, so `tests/loom.rs` explores
//! the ring's own protocol (slot handoff between producers and the consumer, and `DropOldest`
//! producers taking the oldest record), and std otherwise. The flusher thread and its lock are
//! not modelled: they are left out under loom.

#[cfg(stanchion_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};

#[cfg(not(stanchion_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};

pub(crate) use stanchion_core::event::{Event, Listener};
pub(crate) use stanchion_core::sync::Backoff;
#[cfg(not(stanchion_loom))]
pub(crate) use stanchion_core::sync::{Mutex, lock};

pub(crate) use stanchion_core::RaceCell as Cell;
