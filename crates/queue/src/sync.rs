//! Synchronization primitives, from loom under `--cfg stanchion_loom` so the models in
//! `tests/loom.rs` explore the queue's own protocol (the ring's handoff, capacity, close, park and
//! wake); the wake-up event is stanchion-core's loom model of event-listener.

#[cfg(stanchion_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};

#[cfg(not(stanchion_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};

pub(crate) use stanchion_core::event::{Event, Listener, notify_additional};

/// Run by a waker between its sequentially consistent read-modify-write of the queue and its read
/// of a waiter count (see `Waiters` in queue.rs). Nothing in a real build: the C++20 model orders
/// such an operation with the waiter's `SeqCst` fence, and x86 executes it as a full barrier.
/// Under loom, a `SeqCst` fence, because loom treats `SeqCst` operations as `AcqRel` (its README,
/// "SeqCst accesses") and would report the handshake broken. It sits just before the count's read,
/// after the item's handoff, so that it cannot hide a missing acquire or release in the ring.
#[inline(always)]
pub(crate) fn seq_cst_rmw_done() {
    #[cfg(stanchion_loom)]
    fence(Ordering::SeqCst);
}
