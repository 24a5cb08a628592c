//! The synchronization primitives, from loom under `--cfg stanchion_loom` so the models in
//! `tests/loom.rs` explore every interleaving of the real code.

#[cfg(stanchion_loom)]
pub(crate) use loom::{
    hint::spin_loop,
    sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering},
    sync::{Mutex, MutexGuard, RwLock},
};

#[cfg(not(stanchion_loom))]
pub(crate) use std::{
    hint::spin_loop,
    sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering},
    sync::{Mutex, MutexGuard, RwLock},
};
