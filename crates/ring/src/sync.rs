//! Synchronization primitives from loom under `--cfg stanchion_loom`, so `tests/loom.rs` explores
//! the ring's own protocol (slot handoff between producers and the consumer, and `DropOldest`
//! producers taking the oldest record), and std otherwise. The flusher thread and its lock are
//! not modelled: they are left out under loom.

#[cfg(stanchion_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};

#[cfg(not(stanchion_loom))]
pub(crate) use std::sync::{
    Mutex, MutexGuard,
    atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence},
};

pub(crate) use stanchion_core::event::{Event, Listener};

/// Locks, ignoring poison: nothing the ring locks is left half-updated by a panic.
#[cfg(not(stanchion_loom))]
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

pub(crate) use stanchion_core::RaceCell as Cell;

/// Waits for another thread to finish a short step (a producer copying its record): spins, then
/// yields the thread, as crossbeam's `Backoff`; under loom, yields to the model.
pub(crate) struct Backoff(#[cfg(not(stanchion_loom))] crossbeam_utils::Backoff);

impl Backoff {
    pub(crate) fn new() -> Self {
        Self(
            #[cfg(not(stanchion_loom))]
            crossbeam_utils::Backoff::new(),
        )
    }

    pub(crate) fn snooze(&self) {
        #[cfg(not(stanchion_loom))]
        self.0.snooze();
        #[cfg(stanchion_loom)]
        loom::thread::yield_now();
    }
}
