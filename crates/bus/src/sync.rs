//! Synchronization primitives from loom under `--cfg stanchion_loom`, so `tests/loom.rs` explores
//! the bus's own protocol (slot handoff, eviction of a lagging subscriber, park and wake), and std
//! otherwise.

#[cfg(stanchion_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

#[cfg(not(stanchion_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

pub(crate) use stanchion_core::sync::{Backoff, Mutex, lock};

pub(crate) use stanchion_core::event::{Event, Listener};

pub(crate) use stanchion_core::RaceCell as Cell;
