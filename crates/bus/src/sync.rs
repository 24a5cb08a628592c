//! Synchronization primitives from loom under `--cfg stanchion_loom`, so `tests/loom.rs` explores
//! the bus's own protocol (slot handoff, eviction of a lagging subscriber, park and wake), and std
//! otherwise.

#[cfg(stanchion_loom)]
pub(crate) use loom::sync::{
    Mutex, MutexGuard,
    atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
};

#[cfg(not(stanchion_loom))]
pub(crate) use std::sync::{
    Mutex, MutexGuard,
    atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
};

pub(crate) use stanchion_core::event::{Event, Listener};

/// Locks, ignoring poison: a topic's write side is consistent between statements, and the only
/// user code run under it (an event's `Clone` for pattern forwarding, a batch's iterator) cannot
/// leave it half-updated.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

pub(crate) use stanchion_core::RaceCell as Cell;

/// Waits a moment for another thread to finish a short step (a subscriber copying one event).
pub(crate) struct Spin(
    #[cfg(not(stanchion_loom))] crossbeam_utils::Backoff,
    #[cfg(stanchion_loom)] (),
);

impl Spin {
    pub(crate) fn new() -> Self {
        #[cfg(not(stanchion_loom))]
        return Self(crossbeam_utils::Backoff::new());
        #[cfg(stanchion_loom)]
        Self(())
    }

    pub(crate) fn wait(&self) {
        #[cfg(not(stanchion_loom))]
        self.0.snooze();
        #[cfg(stanchion_loom)]
        loom::thread::yield_now();
    }
}
