//! Synchronization primitives, from loom under `--cfg stanchion_loom` so the models in
//! `tests/loom.rs` explore the queue's own protocol (the ring's handoff, capacity, close, park and
//! wake); the wake-up event is stanchion-core's loom model of event-listener.

#[cfg(stanchion_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};

#[cfg(not(stanchion_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};

pub(crate) use stanchion_core::event::{Event, Listener, notify_additional};

/// Run right after each sequentially consistent read-modify-write that a parked thread's fenced
/// look must see or that must see the parked thread: a ring's claim of a position, a close (see
/// `Waiters` in queue.rs). Nothing in a real build: the C++20 model orders such an operation with
/// the waiter's `SeqCst` fence, and x86 executes it as a full barrier. Under loom, a `SeqCst`
/// fence in the same place, because loom treats `SeqCst` operations as `AcqRel` (its README,
/// "SeqCst accesses") and would report the handshake broken. Right after the claim, not later: a
/// fence after the item's handoff would order the handoff too, and the models would never see a
/// claimed place whose item is not written yet.
#[inline(always)]
pub(crate) fn seq_cst_rmw_done() {
    #[cfg(stanchion_loom)]
    fence(Ordering::SeqCst);
}
