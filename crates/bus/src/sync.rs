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

/// A cell that loom can check for data races; std's `UnsafeCell` otherwise.
#[derive(Debug)]
pub(crate) struct Cell<T>(
    #[cfg(stanchion_loom)] loom::cell::UnsafeCell<T>,
    #[cfg(not(stanchion_loom))] std::cell::UnsafeCell<T>,
);

impl<T> Cell<T> {
    pub(crate) fn new(value: T) -> Self {
        #[cfg(stanchion_loom)]
        return Self(loom::cell::UnsafeCell::new(value));
        #[cfg(not(stanchion_loom))]
        Self(std::cell::UnsafeCell::new(value))
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        #[cfg(stanchion_loom)]
        return self.0.with(f);
        #[cfg(not(stanchion_loom))]
        f(self.0.get())
    }

    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        #[cfg(stanchion_loom)]
        return self.0.with_mut(f);
        #[cfg(not(stanchion_loom))]
        f(self.0.get())
    }
}

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
