//! The locking and spinning the Stanchion crates share, from loom under `--cfg stanchion_loom` so
//! each crate's loom models see them, and from std and crossbeam otherwise.

#[cfg(stanchion_loom)]
pub use loom::sync::{Mutex, MutexGuard};
#[cfg(not(stanchion_loom))]
pub use std::sync::{Mutex, MutexGuard};

/// Locks, ignoring poison. The crates keep what they lock consistent between statements, so a
/// panic elsewhere never leaves it half-updated.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// Waits for another thread to finish a short step: crossbeam's `Backoff` (spin, then yield the
/// thread); under loom, a yield to the model.
#[derive(Debug, Default)]
pub struct Backoff(#[cfg(not(stanchion_loom))] crossbeam_utils::Backoff);

impl Backoff {
    /// A fresh backoff.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits a little longer each call.
    pub fn snooze(&self) {
        #[cfg(not(stanchion_loom))]
        self.0.snooze();
        #[cfg(stanchion_loom)]
        loom::thread::yield_now();
    }
}
