//! The synchronization primitives, from loom under `--cfg stanchion_loom` so the models in
//! `tests/loom.rs` explore every interleaving of the real code.

#[cfg(stanchion_loom)]
pub(crate) use loom::{
    sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
    sync::{Mutex, MutexGuard, RwLock},
};

#[cfg(not(stanchion_loom))]
pub(crate) use std::{
    sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
    sync::{Mutex, MutexGuard, RwLock},
};
