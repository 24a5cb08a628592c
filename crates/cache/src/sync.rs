//! Synchronization primitives from loom under `--cfg stanchion_loom`, so `tests/loom.rs` explores
//! the cache's own protocols (the single-flight handoff) and std otherwise.

#[cfg(stanchion_loom)]
pub(crate) use loom::sync::{
    Arc, Condvar,
    atomic::{AtomicU64, Ordering},
};

#[cfg(not(stanchion_loom))]
pub(crate) use std::sync::{
    Arc, Condvar,
    atomic::{AtomicU64, Ordering},
};

// Locking ignores poison: the cache's state is consistent between statements, and no user code
// (weigher, listener, loader) runs while one of its locks is held, except the key's `Eq`/`Hash`
// and the predicate of `invalidate_if`, which runs before the shard changes.
pub(crate) use stanchion_core::sync::{Mutex, MutexGuard, lock};
