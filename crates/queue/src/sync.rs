//! Synchronization primitives and the per-level FIFO, from loom under `--cfg stanchion_loom` so the
//! models in `tests/loom.rs` explore the queue's own protocol (capacity, close, park and wake).
//! Under loom the level FIFO is a model with concurrent-queue's contract (bounded or not, closable,
//! the same errors) and no stronger ordering than it gives, since concurrent-queue model-checks
//! itself; the wake-up event is stanchion-core's loom model of event-listener.

#[cfg(stanchion_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};

#[cfg(not(stanchion_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};

#[cfg(not(stanchion_loom))]
pub(crate) use concurrent_queue::ConcurrentQueue as Fifo;

pub(crate) use concurrent_queue::PushError as FifoPushError;
pub(crate) use stanchion_core::event::{Event, Listener, notify_additional};

/// The loom model of a level: the count of items and the closed mark in one atomic word, as
/// concurrent-queue keeps its mark in the tail. A push reserves a place in the word, then stores the
/// item; a pop claims an item in the word, then takes it (waiting, as concurrent-queue does, for a
/// push that reserved but has not stored yet). The items sit behind a mutex, but whether a level is
/// empty is decided by the word alone, with acquire and release orderings only, so the models see
/// the weakest ordering the real ring gives and the wake-up protocol cannot lean on the mutex.
#[cfg(stanchion_loom)]
pub(crate) struct Fifo<T> {
    state: AtomicUsize,
    capacity: usize,
    items: loom::sync::Mutex<std::collections::VecDeque<T>>,
}

#[cfg(stanchion_loom)]
const CLOSED: usize = 1 << (usize::BITS - 1);

#[cfg(stanchion_loom)]
impl<T> Fifo<T> {
    pub(crate) fn bounded(capacity: usize) -> Self {
        Self {
            state: AtomicUsize::new(0),
            capacity,
            items: loom::sync::Mutex::new(std::collections::VecDeque::new()),
        }
    }

    pub(crate) fn unbounded() -> Self {
        Self::bounded(CLOSED - 1)
    }

    pub(crate) fn push(&self, item: T) -> Result<(), FifoPushError<T>> {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & CLOSED != 0 {
                return Err(FifoPushError::Closed(item));
            }
            if state >= self.capacity {
                return Err(FifoPushError::Full(item));
            }
            match self.state.compare_exchange(
                state,
                state + 1,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        self.items.lock().unwrap().push_back(item);
        Ok(())
    }

    pub(crate) fn pop(&self) -> Result<T, concurrent_queue::PopError> {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if state & !CLOSED == 0 {
                return Err(if state & CLOSED != 0 {
                    concurrent_queue::PopError::Closed
                } else {
                    concurrent_queue::PopError::Empty
                });
            }
            match self.state.compare_exchange(
                state,
                state - 1,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        loop {
            if let Some(item) = self.items.lock().unwrap().pop_front() {
                return Ok(item);
            }
            loom::thread::yield_now();
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.state.load(Ordering::Acquire) & !CLOSED
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn close(&self) -> bool {
        self.state.fetch_or(CLOSED, Ordering::Release) & CLOSED == 0
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }
}
