//! A topic's storage: one ring of slots that every subscriber reads at its own cursor.
//!
//! Publishers serialize on the write lock; subscribers never take it to receive. Event `s` (a
//! sequence number counting from 0) goes to slot `s % slots.len()`, whose `stamp` becomes `s + 1`
//! once the event is in place, so a subscriber at cursor `c` may read slot `c` exactly when its
//! stamp is `c + 1`, and then moves its cursor on with a release store.
//!
//! The capacity rule: a subscriber holds at most `capacity` unread events. The write side caches
//! `gate`, a lower bound of every cursor, and only looks at the cursors when `tail - gate` reaches
//! the capacity; then the overflow policy decides.
//!
//! Under `Block`, `DropNewest` and `Error` a slot is never overwritten while a cursor is at or
//! behind its event, so reading needs no more than the stamp check. Under `DropOldest` the
//! publisher moves a lagging cursor forward (the subscriber learns how far from its cursor and
//! reports `Lagged`), and the ring has at least twice `capacity` slots so that the event being
//! overwritten is one no subscriber within its capacity still needs. The remaining race, a
//! subscriber copying the very event being overwritten, is settled on the cursor word: the
//! subscriber sets `READING` with a compare-and-swap before it looks at a slot, and the publisher
//! moves a cursor with a compare-and-swap, so exactly one of them wins. The publisher never moves
//! a `READING` cursor: if it is at or before the event being overwritten, the publisher waits for
//! the copy to finish; otherwise it catches that subscriber up on a later publish.

use std::mem::MaybeUninit;
use std::sync::Arc;

use stanchion_core::CachePadded;

use crate::config::{Overflow, TopicConfig};
use crate::stats::TopicStats;
use crate::sync::{
    AtomicBool, AtomicU64, AtomicUsize, Backoff, Cell, Event, Mutex, Ordering, lock,
};

/// Set on a cursor while its subscriber copies events out of the ring (only under `DropOldest`).
pub(crate) const READING: u64 = 1 << 63;

struct Slot<E> {
    /// `s + 1` when the slot holds event `s`; 0 before the first write.
    stamp: AtomicU64,
    value: Cell<MaybeUninit<E>>,
}

/// A subscriber's position, on a cache line of its own: written by its subscriber on every
/// receive and read by publishers only when the topic looks full.
#[derive(Debug)]
pub(crate) struct Cursor {
    /// The next sequence number to read, with `READING` while copying.
    pub(crate) pos: AtomicU64,
    /// Events this subscriber has received (only it writes this).
    pub(crate) delivered: AtomicU64,
}

/// Where a pattern subscription receives a topic's events.
pub(crate) trait Forward<E>: Send + Sync {
    /// Hands a copy of `event`, published on `topic`, to the subscription; false once the
    /// subscription is gone, so the topic drops it.
    fn forward(&self, topic: &Arc<str>, event: &E) -> bool;

    /// Whether the subscription is still there.
    fn is_live(&self) -> bool;
}

struct WriteSide<E> {
    /// The next sequence number to publish.
    tail: u64,
    /// At most every cursor's position; exact after each look at the cursors.
    gate: u64,
    cursors: Vec<Arc<CachePadded<Cursor>>>,
    forwards: Vec<Arc<dyn Forward<E>>>,
    published: u64,
    dropped: u64,
    rejected: u64,
    lagged: u64,
    /// Deliveries of subscribers that have left.
    retired_delivered: u64,
}

/// A publish attempt that did not take the event.
pub(crate) enum Refused<E> {
    Full(E),
    Closed(E),
}

pub(crate) struct Ring<E> {
    pub(crate) name: Arc<str>,
    pub(crate) config: TopicConfig,
    capacity: u64,
    mask: u64,
    slots: Box<[Slot<E>]>,
    write: Mutex<WriteSide<E>>,
    closed: AtomicBool,
    /// Notified after events are published and on close; subscribers wait on it.
    pub(crate) published: Event,
    /// Notified under `Block` when a subscriber moves on or leaves, and on close.
    pub(crate) space: Event,
    /// Live `Topic` handles; the topic closes when the last one goes.
    pub(crate) handles: AtomicUsize,
    /// Whether there is a subscriber or a pattern subscription; set under the write lock, read
    /// without it by publishers that skip building events nobody would receive.
    listened: AtomicBool,
}

// SAFETY: slots are written only under the write lock, and read only by subscribers after the
// stamp handshake described in the module docs; events cross threads (Send) and are read through
// shared references from many threads at once (Sync).
unsafe impl<E: Send + Sync> Sync for Ring<E> {}
// SAFETY: as above; the ring owns its events.
unsafe impl<E: Send + Sync> Send for Ring<E> {}

impl<E> Ring<E> {
    pub(crate) fn new(name: Arc<str>, config: TopicConfig) -> Self {
        let capacity = config.capacity as u64;
        // DropOldest overwrites behind lagging cursors: twice the capacity keeps the slot being
        // overwritten out of reach of every subscriber within its capacity.
        let slots = match config.overflow {
            Overflow::DropOldest => config.capacity.saturating_mul(2),
            _ => config.capacity,
        }
        .next_power_of_two();
        Self {
            name,
            config,
            capacity,
            mask: slots as u64 - 1,
            slots: (0..slots)
                .map(|_| Slot {
                    stamp: AtomicU64::new(0),
                    value: Cell::new(MaybeUninit::uninit()),
                })
                .collect(),
            write: Mutex::new(WriteSide {
                tail: 0,
                gate: 0,
                cursors: Vec::new(),
                forwards: Vec::new(),
                published: 0,
                dropped: 0,
                rejected: 0,
                lagged: 0,
                retired_delivered: 0,
            }),
            closed: AtomicBool::new(false),
            published: Event::new(),
            space: Event::new(),
            handles: AtomicUsize::new(0),
            listened: AtomicBool::new(false),
        }
    }

    fn slot(&self, seq: u64) -> &Slot<E> {
        &self.slots[(seq & self.mask) as usize]
    }

    pub(crate) fn drops_oldest(&self) -> bool {
        self.config.overflow == Overflow::DropOldest
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Closes the topic: publishers are refused, subscribers drain what is left then see the end.
    pub(crate) fn close(&self) {
        let _write = lock(&self.write);
        self.closed.store(true, Ordering::Release);
        drop(_write);
        self.published.notify(usize::MAX);
        self.space.notify(usize::MAX);
    }

    /// A cursor at the tail: the new subscriber sees events published from now on.
    pub(crate) fn subscribe(&self) -> (Arc<CachePadded<Cursor>>, u64) {
        let mut write = lock(&self.write);
        let cursor = Arc::new(CachePadded(Cursor {
            pos: AtomicU64::new(write.tail),
            delivered: AtomicU64::new(0),
        }));
        write.cursors.push(Arc::clone(&cursor));
        self.update_listened(&write);
        (cursor, write.tail)
    }

    pub(crate) fn unsubscribe(&self, cursor: &Arc<CachePadded<Cursor>>) {
        let mut write = lock(&self.write);
        if let Some(at) = write.cursors.iter().position(|c| Arc::ptr_eq(c, cursor)) {
            write.cursors.swap_remove(at);
            write.retired_delivered += cursor.delivered.load(Ordering::Relaxed);
        }
        self.update_listened(&write);
        drop(write);
        // A publisher blocked on this subscriber looks again.
        if self.config.overflow == Overflow::Block {
            self.space.notify(usize::MAX);
        }
    }

    pub(crate) fn add_forward(&self, forward: Arc<dyn Forward<E>>) {
        let mut write = lock(&self.write);
        write.forwards.retain(|f| f.is_live());
        write.forwards.push(forward);
        self.update_listened(&write);
    }

    fn update_listened(&self, write: &WriteSide<E>) {
        let listened = !write.cursors.is_empty() || !write.forwards.is_empty();
        self.listened.store(listened, Ordering::Relaxed);
    }

    /// Whether a subscriber or pattern subscription exists; it may have just left.
    pub(crate) fn is_listened(&self) -> bool {
        self.listened.load(Ordering::Relaxed)
    }

    pub(crate) fn subscriber_count(&self) -> usize {
        lock(&self.write).cursors.len()
    }

    pub(crate) fn stats(&self) -> TopicStats {
        let write = lock(&self.write);
        TopicStats {
            published: write.published,
            delivered: write.retired_delivered
                + write
                    .cursors
                    .iter()
                    .map(|c| c.delivered.load(Ordering::Relaxed))
                    .sum::<u64>(),
            dropped: write.dropped,
            rejected: write.rejected,
            lagged: write.lagged,
            subscribers: write.cursors.len(),
        }
    }
}

impl<E: Clone> Ring<E> {
    /// Publishes one event without waiting; `Ok` carries the number of subscribers it went to
    /// (0 when `DropNewest` dropped it).
    pub(crate) fn try_publish(&self, event: E) -> Result<usize, Refused<E>> {
        let mut write = lock(&self.write);
        if self.is_closed() {
            return Err(Refused::Closed(event));
        }
        if !self.make_room(&mut write) {
            if self.config.overflow != Overflow::DropNewest {
                return Err(Refused::Full(event));
            }
            write.dropped += 1;
            drop(write);
            // Event destructors run outside the lock: they may publish or drop a handle.
            drop(event);
            return Ok(0);
        }
        let subscribers = write.cursors.len();
        let old = self.write_one(&mut write, event);
        drop(write);
        drop(old);
        self.published.notify(usize::MAX);
        Ok(subscribers)
    }

    /// Publishes from `events` until it runs out (`Ok(published)`) or the topic is full under
    /// `Block` or `Error` (`Err(Full)` with the refused event still first in `events`), taking the
    /// write lock once. Under `DropNewest` the events that do not fit are dropped and counted.
    pub(crate) fn try_publish_some<I: Iterator<Item = E>>(
        &self,
        events: &mut std::iter::Peekable<I>,
    ) -> Result<usize, Refused<usize>> {
        // Declared before the lock, so it wakes subscribers after the lock is released, even if
        // the iterator or an event's `Clone` panics after some events went out.
        let mut wake = Wake {
            event: &self.published,
            armed: false,
        };
        let mut replaced = Vec::new();
        let mut write = lock(&self.write);
        if self.is_closed() {
            return Err(Refused::Closed(0));
        }
        let mut published = 0;
        let outcome = loop {
            if events.peek().is_none() {
                break Ok(published);
            }
            if !self.make_room(&mut write) {
                break Err(Refused::Full(published));
            }
            let event = events.next().expect("peeked");
            let old = self.write_one(&mut write, event);
            wake.armed = true;
            if std::mem::needs_drop::<E>() {
                replaced.extend(old);
            }
            published += 1;
        };
        drop(write);
        drop(replaced);
        if matches!(outcome, Err(Refused::Full(_))) && self.config.overflow == Overflow::DropNewest
        {
            let dropped = events.count() as u64;
            lock(&self.write).dropped += dropped;
            return Ok(published);
        }
        outcome
    }

    /// Counts events handed back to a publisher as `Full`.
    pub(crate) fn count_rejected(&self, events: u64) {
        lock(&self.write).rejected += events;
    }

    /// Whether event `tail` may be published now, after evicting laggards under `DropOldest`.
    fn make_room(&self, write: &mut WriteSide<E>) -> bool {
        let seq = write.tail;
        if seq - write.gate < self.capacity {
            return true;
        }
        write.gate = write
            .cursors
            .iter()
            .map(|c| c.pos.load(Ordering::Acquire) & !READING)
            .min()
            .unwrap_or(seq);
        if seq - write.gate < self.capacity {
            return true;
        }
        if !self.drops_oldest() {
            return false;
        }
        self.evict(write, seq);
        true
    }

    /// Under `DropOldest`, moves every cursor more than `capacity` behind event `seq` forward, and
    /// makes sure nobody is copying the event that `seq` overwrites.
    fn evict(&self, write: &mut WriteSide<E>, seq: u64) {
        let floor = seq + 1 - self.capacity;
        let slots = self.mask + 1;
        // The event that `seq` overwrites, if some cursor may still be at or before it.
        let overwritten = seq.checked_sub(slots).filter(|&old| write.gate <= old);
        let mut gate = seq;
        for cursor in &write.cursors {
            let backoff = Backoff::new();
            loop {
                let pos = cursor.pos.load(Ordering::Acquire);
                let at = pos & !READING;
                if at >= floor {
                    gate = gate.min(at);
                    break;
                }
                if pos & READING != 0 {
                    if overwritten.is_some_and(|old| at <= old) {
                        // It is copying events from `at` on, the overwritten one among them.
                        backoff.snooze();
                        continue;
                    }
                    // It reads nothing we overwrite; catch it up on a later publish.
                    gate = gate.min(at);
                    break;
                }
                if cursor
                    .pos
                    .compare_exchange(pos, floor, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    write.lagged += floor - at;
                    gate = gate.min(floor);
                    break;
                }
            }
        }
        write.gate = gate;
    }

    /// Writes event `tail` (room was made) and forwards it to pattern subscriptions. Returns the
    /// event it replaced, to be dropped after the lock is released.
    fn write_one(&self, write: &mut WriteSide<E>, event: E) -> Option<E> {
        let seq = write.tail;
        if !write.forwards.is_empty() {
            write
                .forwards
                .retain(|forward| forward.forward(&self.name, &event));
            self.update_listened(write);
        }
        let slot = self.slot(seq);
        let old = slot.value.with_mut(|value| {
            // SAFETY: only the write-lock holder writes slots; no subscriber reads this one now
            // (the capacity rule, or `evict`'s handshake). The slot holds an event iff the ring
            // has wrapped, i.e. `seq` is past the slot count.
            unsafe {
                let value = &mut *value;
                let old = (seq > self.mask).then(|| value.assume_init_read());
                value.write(event);
                old
            }
        });
        slot.stamp.store(seq + 1, Ordering::Release);
        write.tail = seq + 1;
        write.published += 1;
        old
    }

    /// Reads up to `max` events for the subscriber whose next event is `next`, appending clones
    /// to `out`. Returns how many it read, or why it read none.
    pub(crate) fn read(
        &self,
        cursor: &Cursor,
        next: &mut u64,
        max: usize,
        mut out: impl FnMut(E),
    ) -> Read {
        loop {
            let pos = cursor.pos.load(Ordering::Acquire);
            if pos != *next {
                // A publisher moved this cursor forward: those events were lost.
                let lost = pos - *next;
                *next = pos;
                return Read::Lagged(lost);
            }
            if self.drops_oldest()
                && cursor
                    .pos
                    .compare_exchange(pos, pos | READING, Ordering::Acquire, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            let mut reading = Reading {
                cursor,
                next: &mut *next,
                from: pos,
                read: 0,
            };
            while reading.read < max as u64 {
                let seq = pos + reading.read;
                let slot = self.slot(seq);
                if slot.stamp.load(Ordering::Acquire) != seq + 1 {
                    break;
                }
                // SAFETY: the stamp says the slot holds event `seq`, and the capacity rule (or
                // `READING`) keeps publishers from overwriting it until the cursor moves past.
                out(slot
                    .value
                    .with(|value| unsafe { (*value).assume_init_ref().clone() }));
                reading.read += 1;
            }
            let read = reading.read as usize;
            drop(reading);
            if read > 0 {
                if self.config.overflow == Overflow::Block {
                    self.space.notify(usize::MAX);
                }
                return Read::Events(read);
            }
            let stamp = self.slot(pos).stamp.load(Ordering::Acquire);
            if stamp > pos + 1 {
                // Overwritten: the publisher moved the cursor before writing, so look again.
                continue;
            }
            if self.is_closed() {
                // Close happens after the last publish, so what it shows now is final: look once
                // more before reporting the end.
                if self.slot(pos).stamp.load(Ordering::Acquire) > pos {
                    continue;
                }
                return Read::Closed;
            }
            return Read::Empty;
        }
    }
}

impl<E> Drop for Ring<E> {
    fn drop(&mut self) {
        let written = lock(&self.write).tail.min(self.mask + 1);
        for slot in &self.slots[..written as usize] {
            // SAFETY: slots `0..min(tail, len)` have been written, and each write replaces.
            slot.value
                .with_mut(|value| unsafe { (*value).assume_init_drop() });
        }
    }
}

/// Notifies an event when dropped, if armed.
struct Wake<'a> {
    event: &'a Event,
    armed: bool,
}

impl Drop for Wake<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.event.notify(usize::MAX);
        }
    }
}

/// A subscriber's read in progress. Dropping it, on return or if an event's `Clone` panics,
/// moves the cursor past what was handed out and clears `READING`, so no event is handed out
/// twice and no publisher waits on a subscriber that is gone.
struct Reading<'a> {
    cursor: &'a Cursor,
    next: &'a mut u64,
    from: u64,
    read: u64,
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        let to = self.from + self.read;
        // Publishers never change a cursor that is `READING`, so a plain store is enough.
        self.cursor.pos.store(to, Ordering::Release);
        if self.read > 0 {
            *self.next = to;
            let delivered = self.cursor.delivered.load(Ordering::Relaxed) + self.read;
            self.cursor.delivered.store(delivered, Ordering::Relaxed);
        }
    }
}

/// What a read found.
pub(crate) enum Read {
    Events(usize),
    Empty,
    Lagged(u64),
    Closed,
}
