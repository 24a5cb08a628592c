//! One level's FIFO: a ring of our own when the level is bounded, concurrent-queue's linked
//! blocks when it is not.
//!
//! The ring is Dmitry Vyukov's bounded MPMC array: every place carries a stamp saying which
//! position it waits for, so a producer claims the tail and a consumer the head with one
//! compare-and-swap each, and the stamp hands the item over. Three things make it ours rather than a
//! dependency:
//! - a pop reads only the head place's stamp. A place still waiting for its push means the level
//!   is empty as far as this pop is concerned, without the fence and the read of the tail (a line
//!   every push writes) that a linearizable emptiness check costs. A consumer walking the levels
//!   from the most urgent pays nothing for the empty ones;
//! - a batch pop counts the full places from the head and claims all of them with one
//!   compare-and-swap;
//! - pushed and popped totals are the tail and head positions themselves, so neither side writes a
//!   counter.
//!
//! The compare-and-swaps that claim positions are sequentially consistent: they are the changes a
//! parked thread's fenced look must see (see `Waiters` in queue.rs), at no cost on x86, where every
//! locked instruction is a full barrier.

use std::mem::MaybeUninit;

use concurrent_queue::ConcurrentQueue;
use stanchion_core::sync::Backoff;
use stanchion_core::{CachePadded, Counter, RaceCell};

use crate::sync::{AtomicUsize, Ordering, fence, seq_cst_rmw_done};

/// The most free places a blocking push that found its level full waits for before trying again.
const MAX_RUN: usize = 32;

/// Why a push was refused; the item comes back.
#[derive(Debug)]
pub(crate) enum Refused<T> {
    Full(T),
    Closed(T),
}

impl<T> Refused<T> {
    pub(crate) fn into_inner(self) -> T {
        match self {
            Self::Full(item) | Self::Closed(item) => item,
        }
    }
}

/// A level's items: a [`Ring`] if bounded, linked blocks if not.
#[allow(
    clippy::large_enum_variant,
    reason = "one per level, allocated once; a box would cost every push an indirection"
)]
pub(crate) enum Fifo<T> {
    Bounded(Ring<T>),
    #[cfg_attr(stanchion_loom, allow(dead_code))]
    Unbounded(Unbounded<T>),
}

/// concurrent-queue's unbounded queue, with the totals it does not keep.
pub(crate) struct Unbounded<T> {
    queue: ConcurrentQueue<T>,
    pushed: Counter,
    popped: Counter,
}

impl<T> Fifo<T> {
    pub(crate) fn new(capacity: Option<usize>) -> Self {
        match capacity {
            Some(capacity) => Self::Bounded(Ring::new(capacity)),
            #[cfg(not(stanchion_loom))]
            None => Self::Unbounded(Unbounded {
                queue: ConcurrentQueue::unbounded(),
                pushed: Counter::new(),
                popped: Counter::new(),
            }),
            // concurrent-queue model-checks itself with its own cfg, not ours: the loom models
            // run an unbounded level as a ring with more places than any of them pushes.
            #[cfg(stanchion_loom)]
            None => Self::Bounded(Ring::new(8)),
        }
    }

    // This, `pop` and the ring's own are inlined into the queue's push and pop: moving a large
    // item through calls stalls on reading back the stores that wrote it (see
    // `PriorityQueue::push`).
    #[inline(always)]
    pub(crate) fn push(&self, item: T) -> Result<(), Refused<T>> {
        match self {
            Self::Bounded(ring) => ring.push(item),
            Self::Unbounded(level) => match level.queue.push(item) {
                Ok(()) => {
                    level.pushed.increment();
                    // What the ring's sequentially consistent claim gives a parked consumer.
                    fence(Ordering::SeqCst);
                    Ok(())
                }
                Err(concurrent_queue::PushError::Full(item)) => Err(Refused::Full(item)),
                Err(concurrent_queue::PushError::Closed(item)) => Err(Refused::Closed(item)),
            },
        }
    }

    /// Moves items from the front of `items` into the level while there is room; how many. The
    /// rest stay in `items`, in order.
    pub(crate) fn push_from(&self, items: &mut Vec<T>) -> usize {
        match self {
            Self::Bounded(ring) => ring.push_from(items),
            Self::Unbounded(_) => {
                let mut pushed = 0;
                let mut rest = items.drain(..);
                for item in rest.by_ref() {
                    if let Err(refused) = self.push(item) {
                        // Put the refused item back in front of the ones not tried.
                        let mut left = vec![refused.into_inner()];
                        left.extend(rest);
                        *items = left;
                        return pushed;
                    }
                    pushed += 1;
                }
                pushed
            }
        }
    }

    #[inline(always)]
    pub(crate) fn pop(&self) -> Option<T> {
        match self {
            Self::Bounded(ring) => ring.pop(),
            Self::Unbounded(level) => {
                let item = level.queue.pop().ok()?;
                level.popped.increment();
                Some(item)
            }
        }
    }

    /// Moves up to `max` items into `out`; how many.
    #[inline]
    pub(crate) fn pop_into(&self, out: &mut Vec<T>, max: usize) -> usize {
        match self {
            Self::Bounded(ring) => ring.pop_into(out, max),
            Self::Unbounded(level) => {
                let before = out.len();
                out.extend(level.queue.try_iter().take(max));
                let count = out.len() - before;
                level.popped.add(count as u64);
                count
            }
        }
    }

    /// Whether a blocking push that found the level full should try again: once the pops have
    /// freed a run of places (an eighth of the ring, at most `MAX_RUN`), not at the first one.
    ///
    /// A producer that takes each place the moment it is freed writes the cache line the consumer
    /// is reading its next items from, so the line moves between their cores on every item. Let a
    /// run of places free up first, and the producer fills lines the consumer is done with.
    pub(crate) fn has_run_of_room(&self) -> bool {
        match self {
            Self::Bounded(ring) => ring.has_run_of_room(),
            Self::Unbounded(_) => true,
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Bounded(ring) => ring.len(),
            Self::Unbounded(level) => level.queue.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Self::Bounded(ring) => ring.is_empty(),
            Self::Unbounded(level) => level.queue.is_empty(),
        }
    }

    /// Refuses every later push.
    pub(crate) fn close(&self) {
        match self {
            Self::Bounded(ring) => ring.close(),
            Self::Unbounded(level) => {
                level.queue.close();
            }
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        match self {
            Self::Bounded(ring) => ring.is_closed(),
            Self::Unbounded(level) => level.queue.is_closed(),
        }
    }

    /// Items ever pushed.
    pub(crate) fn pushed(&self) -> u64 {
        match self {
            Self::Bounded(ring) => ring.pushed(),
            Self::Unbounded(level) => level.pushed.get(),
        }
    }

    /// Items ever popped.
    pub(crate) fn popped(&self) -> u64 {
        match self {
            Self::Bounded(ring) => ring.popped(),
            Self::Unbounded(level) => level.popped.get(),
        }
    }
}

/// A place in the ring: the position it waits for, and the item.
///
/// A place at index `i` waits for the push of position `i + k·lap` (its stamp is that position),
/// then holds its item (stamp one more), then, popped, waits for the next lap's push.
struct Place<T> {
    stamp: AtomicUsize,
    item: RaceCell<MaybeUninit<T>>,
}

/// A bounded MPMC FIFO of `capacity` places.
///
/// Positions count pushes (the tail) and pops (the head): the index of a place in the low bits,
/// below `mark`, and the lap above `lap`. The tail's `mark` bit says the ring is closed.
pub(crate) struct Ring<T> {
    head: CachePadded<AtomicUsize>,
    tail: CachePadded<AtomicUsize>,
    places: Box<[Place<T>]>,
    /// The closed bit of the tail, above every index.
    mark: usize,
    /// One lap in position units.
    lap: usize,
}

// SAFETY: items move between threads through the stamps' acquire/release handoff; each place's
// item is touched only by the one thread whose compare-and-swap claimed its position.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as for `Send`: shared access hands items over and never shares them.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Ring<T> {
    fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "the builder refuses a capacity of 0");
        let mark = capacity.next_power_of_two();
        Self {
            head: CachePadded(AtomicUsize::new(0)),
            tail: CachePadded(AtomicUsize::new(0)),
            places: (0..capacity)
                .map(|index| Place {
                    stamp: AtomicUsize::new(index),
                    item: RaceCell::new(MaybeUninit::uninit()),
                })
                .collect(),
            mark,
            lap: mark << 1,
        }
    }

    #[inline]
    fn place(&self, position: usize) -> &Place<T> {
        &self.places[position & (self.mark - 1)]
    }

    /// The position after `position`: the next index, or the first of the next lap.
    #[inline]
    fn after(&self, position: usize) -> usize {
        if (position & (self.mark - 1)) + 1 < self.places.len() {
            position.wrapping_add(1)
        } else {
            (position & !(self.lap - 1)).wrapping_add(self.lap)
        }
    }

    /// How many pushes (or pops) a position stands for: exact until positions wrap, after
    /// `2^64 / lap` laps on 64-bit targets (never, in practice) and `2^32 / lap` on 32-bit ones.
    #[inline]
    fn count(&self, position: usize) -> usize {
        (position / self.lap)
            .wrapping_mul(self.places.len())
            .wrapping_add(position & (self.mark - 1))
    }

    #[inline(always)]
    fn push(&self, item: T) -> Result<(), Refused<T>> {
        let backoff = Backoff::new();
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            if tail & self.mark != 0 {
                return Err(Refused::Closed(item));
            }
            let place = self.place(tail);
            // Acquire: the pop that freed the place has finished reading its item.
            let stamp = place.stamp.load(Ordering::Acquire);
            if stamp == tail {
                match self.tail.compare_exchange_weak(
                    tail,
                    self.after(tail),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        seq_cst_rmw_done();
                        // SAFETY: the compare-and-swap made this thread the only one to hold
                        // position `tail`, and its place is free (the stamp said so).
                        place.item.with_mut(|slot| unsafe { (*slot).write(item) });
                        place.stamp.store(tail.wrapping_add(1), Ordering::Release);
                        return Ok(());
                    }
                    Err(current) => tail = current,
                }
            } else if self.is_full_at(tail, stamp, &backoff) {
                return Err(Refused::Full(item));
            } else {
                tail = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// For a push that found the place at `tail` not free (its stamp is `stamp`): whether the ring
    /// is full. If not, the place is held by a pop still reading it or by a push that took the
    /// position first; this waits a little before the caller looks at the tail again.
    fn is_full_at(&self, tail: usize, stamp: usize, backoff: &Backoff) -> bool {
        if stamp.wrapping_add(self.lap) == tail.wrapping_add(1) {
            // The place still holds the last lap's item. Full, unless its pop has claimed it and
            // is reading it out: the head says which.
            fence(Ordering::SeqCst);
            if self.head.load(Ordering::Relaxed).wrapping_add(self.lap) == tail {
                return true;
            }
        }
        backoff.snooze();
        false
    }

    /// Moves items from the front of `items` into the free places from the tail, claiming all of
    /// them with one compare-and-swap; returns how many (0 if full or closed).
    fn push_from(&self, items: &mut Vec<T>) -> usize {
        let backoff = Backoff::new();
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            if tail & self.mark != 0 || items.is_empty() {
                return 0;
            }
            let (mut end, mut count) = (tail, 0);
            while count < items.len() {
                // Acquire, as in `push`, for each place claimed below. A free place keeps its
                // stamp until the push that claims its position writes it, so the places counted
                // here are still free if the claim succeeds.
                let stamp = self.place(end).stamp.load(Ordering::Acquire);
                if stamp != end {
                    if count == 0 && self.is_full_at(tail, stamp, &backoff) {
                        return 0;
                    }
                    break;
                }
                end = self.after(end);
                count += 1;
            }
            if count == 0 {
                tail = self.tail.load(Ordering::Relaxed);
                continue;
            }
            match self
                .tail
                .compare_exchange(tail, end, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => {
                    seq_cst_rmw_done();
                    let mut position = tail;
                    // Nothing here may panic between the claim and the last place's stamp, or the
                    // claimed places would never fill and would wedge the ring: a drain's
                    // iteration does not.
                    for item in items.drain(..count) {
                        let place = self.place(position);
                        // SAFETY: the compare-and-swap made this thread the only one to hold the
                        // positions from `tail` to `end`, whose places the stamps showed free.
                        place.item.with_mut(|slot| unsafe { (*slot).write(item) });
                        place
                            .stamp
                            .store(position.wrapping_add(1), Ordering::Release);
                        position = self.after(position);
                    }
                    return count;
                }
                Err(current) => {
                    tail = current;
                    backoff.snooze();
                }
            }
        }
    }

    /// Claims the head's place, or `None` if its push has not finished.
    #[inline(always)]
    fn pop(&self) -> Option<T> {
        let backoff = Backoff::new();
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let place = self.place(head);
            // Acquire: the push's item is visible once its stamp is.
            let stamp = place.stamp.load(Ordering::Acquire);
            if stamp == head.wrapping_add(1) {
                match self.head.compare_exchange_weak(
                    head,
                    self.after(head),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        seq_cst_rmw_done();
                        // SAFETY: this thread alone claimed position `head`, whose item is
                        // written.
                        return Some(unsafe { self.take(head) });
                    }
                    Err(current) => head = current,
                }
            } else if stamp == head {
                return None;
            } else {
                // Another pop took this position: look at the head again.
                backoff.snooze();
                head = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// Claims up to `max` items from the head with one compare-and-swap and moves them into `out`.
    fn pop_into(&self, out: &mut Vec<T>, max: usize) -> usize {
        let backoff = Backoff::new();
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let (mut end, mut count) = (head, 0);
            while count < max {
                // Acquire, as in `pop`, for each item claimed below.
                if self.place(end).stamp.load(Ordering::Acquire) != end.wrapping_add(1) {
                    break;
                }
                end = self.after(end);
                count += 1;
            }
            if count == 0 {
                if max == 0 || self.place(head).stamp.load(Ordering::Relaxed) == head {
                    return 0;
                }
                backoff.snooze();
                head = self.head.load(Ordering::Relaxed);
                continue;
            }
            // Room first: nothing may panic between the claim and the last place's release, or
            // the claimed places would stay full for ever and wedge the ring.
            out.reserve(count);
            match self
                .head
                .compare_exchange(head, end, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => {
                    seq_cst_rmw_done();
                    let mut position = head;
                    for _ in 0..count {
                        // SAFETY: the compare-and-swap claimed every position from `head` to
                        // `end`, and the stamps showed each item written. `out` has room, so
                        // its push does not allocate or panic.
                        out.push(unsafe { self.take(position) });
                        position = self.after(position);
                    }
                    return count;
                }
                Err(current) => {
                    head = current;
                    backoff.snooze();
                }
            }
        }
    }

    /// Moves the item out of `position`'s place and frees the place for the next lap's push.
    ///
    /// # Safety
    ///
    /// The caller claimed `position` by moving the head past it, and its item is written.
    #[inline]
    unsafe fn take(&self, position: usize) -> T {
        let place = self.place(position);
        // SAFETY: per the contract, this thread alone reads this place, which holds an item.
        let item = place
            .item
            .with(|slot| unsafe { (*slot).assume_init_read() });
        // Release: the next lap's push writes only after this read.
        place
            .stamp
            .store(position.wrapping_add(self.lap), Ordering::Release);
        item
    }

    /// Whether the run of places from the tail is free (or the ring is closed). A hint, read
    /// without a fence: the push that follows decides.
    fn has_run_of_room(&self) -> bool {
        let tail = self.tail.load(Ordering::Relaxed);
        if tail & self.mark != 0 {
            return true;
        }
        let run = (self.places.len() / 8).clamp(1, MAX_RUN);
        let index = (tail & (self.mark - 1)) + run - 1;
        let last = if index < self.places.len() {
            tail.wrapping_add(run - 1)
        } else {
            (tail & !(self.lap - 1))
                .wrapping_add(self.lap)
                .wrapping_add(index - self.places.len())
        };
        // Free unless it still holds the last lap's item.
        self.place(last)
            .stamp
            .load(Ordering::Acquire)
            .wrapping_add(self.lap)
            != last.wrapping_add(1)
    }

    fn len(&self) -> usize {
        loop {
            let tail = self.tail.load(Ordering::SeqCst);
            let head = self.head.load(Ordering::SeqCst);
            // A consistent pair: the tail did not move while the head was read.
            if self.tail.load(Ordering::SeqCst) == tail {
                let tail = tail & !self.mark;
                let (from, to) = (head & (self.mark - 1), tail & (self.mark - 1));
                // From the indices, which stay continuous when the positions wrap.
                return match from.cmp(&to) {
                    std::cmp::Ordering::Less => to - from,
                    std::cmp::Ordering::Greater => self.places.len() - from + to,
                    std::cmp::Ordering::Equal if tail == head => 0,
                    std::cmp::Ordering::Equal => self.places.len(),
                };
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn close(&self) {
        self.tail.fetch_or(self.mark, Ordering::SeqCst);
        seq_cst_rmw_done();
    }

    /// Items ever pushed: the tail's position.
    fn pushed(&self) -> u64 {
        self.count(self.tail.load(Ordering::Relaxed) & !self.mark) as u64
    }

    /// Items ever popped: the head's position.
    fn popped(&self) -> u64 {
        self.count(self.head.load(Ordering::Relaxed)) as u64
    }

    fn is_closed(&self) -> bool {
        self.tail.load(Ordering::SeqCst) & self.mark != 0
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // Every place from the head that holds its lap's item; none is claimed, since no push or
        // pop is under way (`&mut self`).
        let mut position = self.head.load(Ordering::Relaxed);
        while self.place(position).stamp.load(Ordering::Relaxed) == position.wrapping_add(1) {
            // SAFETY: the stamp says the item is written and was never taken, and this thread
            // alone can reach the ring.
            drop(unsafe { self.take(position) });
            position = self.after(position);
        }
    }
}

#[cfg(all(test, not(stanchion_loom)))]
mod tests {
    use super::*;

    /// A ring whose positions are about to wrap round `usize`, holding nothing.
    fn ring_at_the_wrap(capacity: usize) -> Ring<u8> {
        let ring = Ring::new(capacity);
        let start = (usize::MAX & !(ring.lap - 1)) + capacity - 1;
        ring.head.store(start, Ordering::Relaxed);
        ring.tail.store(start, Ordering::Relaxed);
        for (index, place) in ring.places.iter().enumerate() {
            let lap = if index < capacity - 1 {
                0
            } else {
                start & !(ring.lap - 1)
            };
            place
                .stamp
                .store(lap.wrapping_add(index), Ordering::Relaxed);
        }
        ring
    }

    #[test]
    fn a_full_ring_has_a_run_of_room_once_a_run_is_popped() {
        for capacity in [1, 16, 24, 1024] {
            let run = (capacity / 8).clamp(1, MAX_RUN);
            // From the start, mid-ring (so the run crosses the end of the places), and where the
            // positions wrap round `usize`.
            for (offset, at_the_wrap) in [(0, false), (capacity - 1, false), (0, true)] {
                let ring = if at_the_wrap {
                    ring_at_the_wrap(capacity)
                } else {
                    Ring::new(capacity)
                };
                for _ in 0..offset {
                    ring.push(0).unwrap();
                    ring.pop().unwrap();
                }
                assert!(ring.has_run_of_room());
                for _ in 0..capacity {
                    ring.push(0).unwrap();
                }
                for popped in 0..run {
                    assert!(
                        !ring.has_run_of_room(),
                        "capacity {capacity}, {popped} popped"
                    );
                    ring.pop().unwrap();
                }
                assert!(ring.has_run_of_room(), "capacity {capacity}, {run} popped");
                ring.push(0).unwrap();
                ring.close();
                assert!(
                    ring.has_run_of_room(),
                    "a closed ring lets the push find out"
                );
            }
        }
    }

    #[test]
    fn dropping_a_ring_drops_the_items_it_holds() {
        let item = std::sync::Arc::new(());
        let ring = Ring::new(3);
        for _ in 0..3 {
            ring.push(std::sync::Arc::clone(&item)).unwrap();
        }
        drop(ring.pop());
        ring.push(std::sync::Arc::clone(&item)).unwrap(); // round the wrap
        assert_eq!(std::sync::Arc::strong_count(&item), 4);
        drop(ring);
        assert_eq!(std::sync::Arc::strong_count(&item), 1);
    }

    #[test]
    fn len_and_order_hold_across_the_wrap_of_positions() {
        for capacity in [1, 3, 4] {
            let ring = ring_at_the_wrap(capacity);
            let items: Vec<u8> = (0..capacity as u8).collect();
            for &item in &items {
                ring.push(item).unwrap();
            }
            assert_eq!(ring.len(), capacity);
            assert!(matches!(ring.push(9), Err(Refused::Full(9))));
            let mut out = Vec::new();
            assert_eq!(ring.pop_into(&mut out, capacity), capacity);
            assert_eq!(out, items);
            assert!(ring.is_empty());
        }
    }
}
