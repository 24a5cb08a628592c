//! Synchronization primitives from loom under `--cfg stanchion_loom`, so `tests/loom.rs` explores
//! the cache's own protocols (the single-flight handoff) and std otherwise.

#[cfg(stanchion_loom)]
pub(crate) use loom::sync::{
    Arc, Condvar, Mutex, MutexGuard,
    atomic::{AtomicU64, Ordering},
};

#[cfg(not(stanchion_loom))]
pub(crate) use std::sync::{
    Arc, Condvar, Mutex, MutexGuard,
    atomic::{AtomicU64, Ordering},
};

/// Locks, ignoring poison: the cache's state is consistent between statements, and no user code
/// (weigher, listener, loader) runs while one of its locks is held, except the key's `Eq`/`Hash`.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}
