//! Synchronization primitives and the per-level FIFO, from loom under `--cfg stanchion_loom` so the
//! models in `tests/loom.rs` explore the queue's own protocol (capacity, close, park and wake).
//! Under loom the level FIFO is a locked `VecDeque` (crossbeam model-checks its own queue), and the
//! wake-up event is stanchion-core's loom model of event-listener.

#[cfg(stanchion_loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

#[cfg(not(stanchion_loom))]
pub(crate) use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

#[cfg(not(stanchion_loom))]
pub(crate) use crossbeam_queue::SegQueue as Fifo;

pub(crate) use stanchion_core::event::{Event, Listener, notify_additional};

#[cfg(stanchion_loom)]
#[derive(Debug, Default)]
pub(crate) struct Fifo<T>(loom::sync::Mutex<std::collections::VecDeque<T>>);

#[cfg(stanchion_loom)]
impl<T> Fifo<T> {
    pub(crate) fn new() -> Self {
        Self(loom::sync::Mutex::new(std::collections::VecDeque::new()))
    }

    pub(crate) fn push(&self, item: T) {
        self.0.lock().unwrap().push_back(item);
    }

    pub(crate) fn pop(&self) -> Option<T> {
        self.0.lock().unwrap().pop_front()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}
