//! One lane of the ring: a bounded multi-producer queue of records in pre-allocated slots.
//!
//! It is Dmitry Vyukov's bounded queue with exact capacity: `head` and `tail` are stamps that
//! carry a slot index in their low bits and a lap count above, each slot has a stamp saying
//! whether it is ready to be written (it equals the tail that claims it) or read (tail + 1), and
//! claims are compare-and-swaps on `head` or `tail`. A producer that claims a slot copies the
//! message into the slot's region of one arena (`slot_bytes` per slot, allocated zeroed so the
//! operating system maps pages only when a slot is first written); a longer message is kept in a
//! heap buffer instead. Under `DropOldest` popping is open to producers too, which is how they
//! make room; otherwise the consumer is the only one popping and needs no compare-and-swap.

use std::ptr::NonNull;

use stanchion_core::CachePadded;

use crate::record::{Level, Record, Timestamp};
use crate::sync::{AtomicU64, Backoff, Cell, Ordering, fence};

struct Meta {
    level: Level,
    target: &'static str,
    len: usize,
    /// The message when it is longer than a slot.
    spill: Option<Box<[u8]>>,
}

/// A slot's bookkeeping is 64 bytes, aligned to a cache line so that each record touches one line of
/// it: unaligned, the array starts 16 bytes into a line (where the allocator puts a large block)
/// and every slot straddles two.
#[repr(align(64))]
struct Slot {
    stamp: AtomicU64,
    /// The record's timestamp, atomic so that a consumer choosing between lanes may read it
    /// (`Queue::peek`) from a slot it has not claimed.
    timestamp: AtomicU64,
    meta: Cell<Meta>,
}

pub(crate) struct Queue {
    head: CachePadded<AtomicU64>,
    tail: CachePadded<AtomicU64>,
    slots: Box<[Slot]>,
    capacity: u64,
    /// A power of two above `capacity`: stamps are `lap * one_lap + index`.
    one_lap: u64,
    slot_bytes: usize,
    arena: NonNull<u8>,
    arena_len: usize,
    /// Whether producers pop too (`DropOldest`); otherwise the consumer pops without a CAS.
    shared_pop: bool,
}

// SAFETY: a slot (its `meta` and its arena region) is accessed only by the one thread whose
// compare-and-swap claimed it, between the claim and the stamp store that releases it.
unsafe impl Send for Queue {}
// SAFETY: as above.
unsafe impl Sync for Queue {}

/// Whether a push found room.
pub(crate) enum Pushed {
    Yes,
    Full,
}

impl Queue {
    /// Bytes a lane of `capacity` slots of `slot_bytes` takes, its own head and tail included,
    /// or `None` past `u64`.
    pub(crate) fn footprint(capacity: usize, slot_bytes: usize) -> Option<u64> {
        (slot_bytes as u64)
            .checked_add(std::mem::size_of::<Slot>() as u64)?
            .checked_mul(capacity as u64)?
            .checked_add(std::mem::size_of::<Queue>() as u64)
    }

    pub(crate) fn new(capacity: usize, slot_bytes: usize, shared_pop: bool) -> Self {
        let arena_len = capacity * slot_bytes;
        // Zeroed memory comes from the allocator as untouched pages, mapped on first write.
        let arena = Box::into_raw(vec![0u8; arena_len].into_boxed_slice());
        Self {
            head: CachePadded(AtomicU64::new(0)),
            tail: CachePadded(AtomicU64::new(0)),
            slots: (0..capacity as u64)
                .map(|i| Slot {
                    stamp: AtomicU64::new(i),
                    timestamp: AtomicU64::new(0),
                    meta: Cell::new(Meta {
                        level: Level::Info,
                        target: "",
                        len: 0,
                        spill: None,
                    }),
                })
                .collect(),
            capacity: capacity as u64,
            one_lap: (capacity as u64 + 1).next_power_of_two(),
            slot_bytes,
            arena: NonNull::new(arena.cast::<u8>()).expect("a box is never null"),
            arena_len,
            shared_pop,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// The stamp after `stamp`: the next index, or index 0 of the next lap.
    fn advance(&self, stamp: u64) -> u64 {
        let index = stamp & (self.one_lap - 1);
        if index + 1 < self.capacity {
            stamp + 1
        } else {
            (stamp & !(self.one_lap - 1)).wrapping_add(self.one_lap)
        }
    }

    /// How many records a stamp has moved past since the start.
    fn count(&self, stamp: u64) -> u64 {
        (stamp / self.one_lap) * self.capacity + (stamp & (self.one_lap - 1))
    }

    /// Records taken out (drained or dropped) since the ring was made.
    #[cfg(not(stanchion_loom))]
    pub(crate) fn popped(&self) -> u64 {
        self.count(self.head.load(Ordering::SeqCst))
    }

    /// Records pushed since the ring was made.
    pub(crate) fn pushed(&self) -> u64 {
        self.count(self.tail.load(Ordering::Relaxed))
    }

    /// Records in the ring now (a snapshot).
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.load(Ordering::SeqCst);
            let head = self.head.load(Ordering::SeqCst);
            if self.tail.load(Ordering::SeqCst) == tail {
                return (self.count(tail) - self.count(head)) as usize;
            }
        }
    }

    /// The timestamp of the record the next pop would take, or `None` when none is ready. Under
    /// `DropOldest` a producer may take that record first: the answer is a hint.
    pub(crate) fn peek(&self) -> Option<Timestamp> {
        let head = self.head.load(Ordering::Relaxed);
        let slot = &self.slots[(head & (self.one_lap - 1)) as usize];
        (slot.stamp.load(Ordering::Acquire) == head + 1)
            .then(|| Timestamp::from_unix_nanos(slot.timestamp.load(Ordering::Relaxed)))
    }

    /// Copies `record` into a free slot, or reports the ring full.
    pub(crate) fn push(&self, record: &Record<'_>) -> Pushed {
        let backoff = Backoff::new();
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[(tail & (self.one_lap - 1)) as usize];
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == tail {
                match self.tail.compare_exchange_weak(
                    tail,
                    self.advance(tail),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        self.write(slot, tail, record);
                        slot.stamp.store(tail + 1, Ordering::Release);
                        return Pushed::Yes;
                    }
                    Err(now) => tail = now,
                }
            } else if stamp.wrapping_add(self.one_lap) == tail + 1 {
                // The slot still holds the record from one lap ago: full, unless the consumer
                // has just moved on.
                fence(Ordering::SeqCst);
                let head = self.head.load(Ordering::Relaxed);
                if head.wrapping_add(self.one_lap) == tail {
                    return Pushed::Full;
                }
                backoff.snooze();
                tail = self.tail.load(Ordering::Relaxed);
            } else {
                // Another producer claimed it: look again.
                backoff.snooze();
                tail = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Takes the oldest record, handing it to `take` while its slot is still held (so the record
    /// borrows the slot's bytes); the slot is freed when `take` returns or panics. Returns false
    /// when the ring is empty.
    pub(crate) fn pop(&self, take: impl FnOnce(Record<'_>)) -> bool {
        if !self.shared_pop {
            return self.pop_exclusive(take);
        }
        let backoff = Backoff::new();
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[(head & (self.one_lap - 1)) as usize];
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == head + 1 {
                match self.head.compare_exchange_weak(
                    head,
                    self.advance(head),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        let _free = Free {
                            slot,
                            stamp: head.wrapping_add(self.one_lap),
                            head: None,
                        };
                        self.read(slot, head, take);
                        return true;
                    }
                    Err(now) => head = now,
                }
            } else if stamp == head {
                // Not written yet: empty, unless a producer is between claim and release.
                fence(Ordering::SeqCst);
                let tail = self.tail.load(Ordering::Relaxed);
                if tail == head {
                    return false;
                }
                backoff.snooze();
                head = self.head.load(Ordering::Relaxed);
            } else {
                backoff.snooze();
                head = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// `pop` for a queue whose consumer is the only one taking records: no compare-and-swap, and
    /// a record still being written counts as not there yet.
    fn pop_exclusive(&self, take: impl FnOnce(Record<'_>)) -> bool {
        let head = self.head.load(Ordering::Relaxed);
        let slot = &self.slots[(head & (self.one_lap - 1)) as usize];
        if slot.stamp.load(Ordering::Acquire) != head + 1 {
            return false;
        }
        // A producer that reads the old head reports the ring full, which it was when it looked.
        let _free = Free {
            slot,
            stamp: head.wrapping_add(self.one_lap),
            head: Some((&self.head, self.advance(head))),
        };
        self.read(slot, head, take);
        true
    }

    /// The arena region of the slot claimed at `stamp`.
    fn region(&self, stamp: u64) -> *mut u8 {
        let index = (stamp & (self.one_lap - 1)) as usize;
        // SAFETY: index < capacity, so the region lies inside the arena.
        unsafe { self.arena.as_ptr().add(index * self.slot_bytes) }
    }

    fn write(&self, slot: &Slot, stamp: u64, record: &Record<'_>) {
        let message = record.message;
        let fits = message.len() <= self.slot_bytes;
        if fits {
            // SAFETY: this thread claimed the slot, so it alone touches its region until it
            // stores the stamp; the message fits in it.
            unsafe {
                std::ptr::copy_nonoverlapping(message.as_ptr(), self.region(stamp), message.len())
            };
        }
        slot.timestamp
            .store(record.timestamp.unix_nanos(), Ordering::Relaxed);
        slot.meta.with_mut(|meta| {
            // SAFETY: as above, for the slot's metadata.
            let meta = unsafe { &mut *meta };
            meta.level = record.level;
            meta.target = record.target;
            meta.len = message.len();
            meta.spill = (!fits).then(|| message.into());
        });
    }

    fn read(&self, slot: &Slot, stamp: u64, take: impl FnOnce(Record<'_>)) {
        slot.meta.with_mut(|meta| {
            // SAFETY: this thread claimed the slot for reading (see `write`).
            let meta = unsafe { &mut *meta };
            let spilled = meta.spill.take();
            let message = match &spilled {
                Some(message) => &message[..],
                // SAFETY: the producer wrote `len` bytes into the region before releasing it.
                None => unsafe { std::slice::from_raw_parts(self.region(stamp), meta.len) },
            };
            take(Record {
                level: meta.level,
                target: meta.target,
                timestamp: Timestamp::from_unix_nanos(slot.timestamp.load(Ordering::Relaxed)),
                message,
            });
        });
    }
}

/// Frees a slot that was read, on the way out even if the reader panicked, so the ring goes on:
/// stores the slot's stamp for the next lap's writer, then (for the exclusive consumer) the new head.
struct Free<'a> {
    slot: &'a Slot,
    stamp: u64,
    head: Option<(&'a AtomicU64, u64)>,
}

impl Drop for Free<'_> {
    fn drop(&mut self) {
        self.slot.stamp.store(self.stamp, Ordering::Release);
        if let Some((head, next)) = self.head {
            head.store(next, Ordering::Release);
        }
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // SAFETY: `arena` came from `Box::into_raw` of a boxed slice of `arena_len` bytes.
        drop(unsafe {
            Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                self.arena.as_ptr(),
                self.arena_len,
            ))
        });
    }
}
