use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use stanchion_core::Counter;

use crate::error::{ConfigError, PushError};
use crate::queue::{Pushed, Queue};
use crate::record::{Batch, Record};
use crate::stats::RingStats;
use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Event, Listener, Ordering};
#[cfg(not(stanchion_loom))]
use crate::sync::{Mutex, lock};

/// What a push does when the ring is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Overflow {
    /// The producer waits for the consumer to make room: nothing is lost, and logging slows the
    /// program down to the sink's speed.
    Block,
    /// The new record is dropped and counted; the producer never waits. The default, as in most
    /// non-blocking loggers: a burst loses its tail, not the program's time.
    #[default]
    DropNewest,
    /// The oldest record in the ring is dropped and counted to make room; the producer never
    /// waits. A burst keeps its most recent records.
    DropOldest,
}

/// Builds a [`LogRing`]: `LogRing::builder().capacity(n).overflow(..).build()`.
#[derive(Debug, Clone)]
pub struct LogRingBuilder {
    capacity: usize,
    slot_bytes: usize,
    overflow: Overflow,
    lanes: usize,
}

/// The entry point: builds a ring and hands back its two ends.
///
/// ```
/// use stanchion_ring::{Batch, Level, LogRing, Overflow, PushError, Record};
///
/// let (producer, mut consumer) = LogRing::builder()
///     .capacity(2)
///     .overflow(Overflow::DropNewest)
///     .build()
///     .unwrap();
/// producer.push(Record::new(Level::Info, "app", b"one")).unwrap();
/// producer.push(Record::new(Level::Info, "app", b"two")).unwrap();
/// assert_eq!(
///     producer.push(Record::new(Level::Info, "app", b"three")),
///     Err(PushError::Full) // dropped and counted, never waits
/// );
/// let mut batch = Batch::new();
/// consumer.drain(&mut batch, 10);
/// assert_eq!(batch.len(), 2);
/// assert_eq!(consumer.stats().dropped, 1);
/// ```
#[derive(Debug)]
pub struct LogRing;

impl LogRing {
    /// A builder with the defaults: 8,192 records of up to 256 message bytes inline,
    /// [`Overflow::DropNewest`].
    pub fn builder() -> LogRingBuilder {
        LogRingBuilder {
            capacity: 8192,
            slot_bytes: 256,
            overflow: Overflow::DropNewest,
            lanes: 1,
        }
    }
}

impl LogRingBuilder {
    /// Records each lane holds (a ring of one lane, the default, holds exactly this many);
    /// at least 1.
    pub fn capacity(mut self, records: usize) -> Self {
        self.capacity = records;
        self
    }

    /// Message bytes stored inline per record. A longer message still goes through, in a heap
    /// buffer of its own (counted in [`RingStats::spilled`]). The ring reserves
    /// `capacity × slot_bytes` bytes of address space; pages are mapped when first written.
    pub fn slot_bytes(mut self, bytes: usize) -> Self {
        self.slot_bytes = bytes;
        self
    }

    /// What a push does when the ring is full.
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// Lanes the producers spread over, at least 1 (the default). Each lane is a ring of its own
    /// of `capacity` records, and each [`Producer`] writes to one of them: the first to lane 0,
    /// each clone to the next lane in turn. Producers on different lanes share no cache line, so
    /// they never wait on each other; set it to the number of threads that log at once. A full
    /// lane is full for its producers whatever the others hold, and `DropOldest` drops the
    /// oldest record of the producer's own lane. The consumer takes, each time, the ready
    /// record with the earliest timestamp of any lane.
    pub fn lanes(mut self, lanes: usize) -> Self {
        self.lanes = lanes;
        self
    }

    /// Builds the ring.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the setting: a zero capacity, or a ring (messages and per-slot
    /// bookkeeping) larger than [`ConfigError::MAX_BYTES`].
    pub fn build(self) -> Result<(Producer, Consumer), ConfigError> {
        if self.capacity == 0 {
            return Err(ConfigError::ZeroCapacity);
        }
        if self.lanes == 0 {
            return Err(ConfigError::ZeroLanes);
        }
        if Queue::footprint(self.capacity, self.slot_bytes)
            .and_then(|bytes| bytes.checked_mul(self.lanes as u64))
            .is_none_or(|bytes| bytes > ConfigError::MAX_BYTES)
        {
            return Err(ConfigError::TooLarge {
                capacity: self.capacity,
                slot_bytes: self.slot_bytes,
                lanes: self.lanes,
            });
        }
        let shared = Arc::new(Shared {
            lanes: (0..self.lanes)
                .map(|_| {
                    Queue::new(
                        self.capacity,
                        self.slot_bytes,
                        self.overflow == Overflow::DropOldest,
                    )
                })
                .collect(),
            next_lane: AtomicUsize::new(1),
            overflow: self.overflow,
            dropped: Counter::new(),
            spilled: Counter::new(),
            slot_bytes: self.slot_bytes,
            flushed: AtomicU64::new(0),
            sink_errors: AtomicU64::new(0),
            high_watermark: AtomicUsize::new(0),
            producers: AtomicUsize::new(1),
            consumer_alive: AtomicBool::new(true),
            data: Event::new(),
            space: Event::new(),
            space_wanted: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            wake_at: AtomicUsize::new(1),
            #[cfg(not(stanchion_loom))]
            last_error: Mutex::new(None),
        });
        Ok((
            Producer {
                shared: Arc::clone(&shared),
                lane: 0,
            },
            Consumer {
                shared,
                copy: Vec::new(),
            },
        ))
    }
}

pub(crate) struct Shared {
    pub(crate) lanes: Box<[Queue]>,
    /// The lane the next clone of a producer writes to (modulo the lanes).
    next_lane: AtomicUsize,
    overflow: Overflow,
    dropped: Counter,
    spilled: Counter,
    slot_bytes: usize,
    pub(crate) flushed: AtomicU64,
    pub(crate) sink_errors: AtomicU64,
    high_watermark: AtomicUsize,
    producers: AtomicUsize,
    consumer_alive: AtomicBool,
    /// Notified when records are waiting and the consumer may be asleep.
    pub(crate) data: Event,
    /// Notified under `Block` when the consumer makes room or goes away.
    space: Event,
    /// Set by a `Block` producer before it waits for room, so that a drain through a slow sink
    /// wakes it after `EARLY_WAKE` rather than at its end. Only a hint: the drain's end still
    /// wakes everyone, so a missed flag costs time, never a wake-up.
    space_wanted: AtomicBool,
    /// Set by a consumer about to sleep; producers then wake it once `wake_at` records wait.
    pub(crate) sleeping: AtomicBool,
    pub(crate) wake_at: AtomicUsize,
    #[cfg(not(stanchion_loom))]
    pub(crate) last_error: Mutex<Option<String>>,
}

impl Shared {
    pub(crate) fn stats(&self) -> RingStats {
        RingStats {
            pushed: self.pushed(),
            dropped: self.dropped.get(),
            spilled: self.spilled.get(),
            flushed: self.flushed.load(Ordering::Relaxed),
            sink_errors: self.sink_errors.load(Ordering::Relaxed),
            high_watermark: self.high_watermark.load(Ordering::Relaxed),
            len: self.len(),
            capacity: self.lanes.iter().map(Queue::capacity).sum(),
        }
    }

    /// Records pushed since the ring was made, over all lanes.
    pub(crate) fn pushed(&self) -> u64 {
        self.lanes.iter().map(Queue::pushed).sum()
    }

    /// The lane whose next record is the oldest, or `None` when no lane has one ready. With one
    /// lane there is nothing to choose and the pop itself finds out whether a record is ready.
    fn earliest_lane(&self) -> Option<&Queue> {
        if let [only] = &self.lanes[..] {
            return Some(only);
        }
        self.lanes
            .iter()
            .filter_map(|lane| Some((lane.peek()?, lane)))
            .min_by_key(|&(at, _)| at)
            .map(|(_, lane)| lane)
    }

    /// Records waiting now, over all lanes (a snapshot).
    pub(crate) fn len(&self) -> usize {
        self.lanes.iter().map(Queue::len).sum()
    }

    pub(crate) fn producers_gone(&self) -> bool {
        self.producers.load(Ordering::Acquire) == 0
    }

    #[cfg(not(stanchion_loom))]
    pub(crate) fn record_error(&self, error: &std::io::Error) {
        self.sink_errors.fetch_add(1, Ordering::Relaxed);
        *lock(&self.last_error) = Some(error.to_string());
    }
}

/// The writing end: cheap to clone, shared by any number of threads.
pub struct Producer {
    shared: Arc<Shared>,
    /// Index of the lane this producer writes to.
    lane: usize,
}

impl Producer {
    /// Copies `record` into the ring. Never waits under [`Overflow::DropNewest`] and
    /// [`Overflow::DropOldest`]; waits for room under [`Overflow::Block`]. Allocates nothing
    /// when the message fits a slot.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] when `DropNewest` dropped the record (counted);
    /// [`PushError::Closed`] when the consumer is gone.
    pub fn push(&self, record: Record<'_>) -> Result<(), PushError> {
        self.push_with(record, true)
    }

    /// As [`push`](Self::push), but under [`Overflow::Block`] a full ring returns
    /// [`PushError::Full`] instead of waiting (and the record is not counted as dropped).
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push).
    pub fn try_push(&self, record: Record<'_>) -> Result<(), PushError> {
        self.push_with(record, false)
    }

    fn push_with(&self, record: Record<'_>, wait: bool) -> Result<(), PushError> {
        let shared = &*self.shared;
        loop {
            if !shared.consumer_alive.load(Ordering::Acquire) {
                return Err(PushError::Closed);
            }
            if self.write(&record) {
                return Ok(());
            }
            match shared.overflow {
                Overflow::DropNewest => {
                    shared.dropped.increment();
                    return Err(PushError::Full);
                }
                Overflow::DropOldest => {
                    if self.queue().pop(|_| {}) {
                        shared.dropped.increment();
                    }
                }
                Overflow::Block if !wait => return Err(PushError::Full),
                Overflow::Block => {
                    // Make sure the consumer is draining, then wait for it (or for its end).
                    shared.data.notify(1);
                    shared.space_wanted.store(true, Ordering::Relaxed);
                    let listener = shared.space.listen();
                    if !shared.consumer_alive.load(Ordering::Acquire) {
                        return Err(PushError::Closed);
                    }
                    if self.write(&record) {
                        return Ok(());
                    }
                    listener.wait();
                }
            }
        }
    }

    /// Writes `record` if there is room, and wakes the consumer when a batch is waiting.
    #[inline]
    fn write(&self, record: &Record<'_>) -> bool {
        let shared = &*self.shared;
        if let Pushed::Full = self.queue().push(record) {
            return false;
        }
        if record.message.len() > shared.slot_bytes {
            shared.spilled.increment();
        }
        self.wake_consumer();
        true
    }

    /// Wakes a sleeping consumer once enough records wait for a batch.
    #[inline]
    fn wake_consumer(&self) {
        let shared = &*self.shared;
        // SeqCst pairs with the consumer's store before it looks at the ring one last time.
        if shared.sleeping.load(Ordering::SeqCst)
            && self.queue().len() >= shared.wake_at.load(Ordering::Relaxed)
        {
            shared.data.notify(1);
        }
    }

    /// This producer's lane.
    #[inline]
    fn queue(&self) -> &Queue {
        &self.shared.lanes[self.lane]
    }

    /// The ring's counters.
    pub fn stats(&self) -> RingStats {
        self.shared.stats()
    }
}

impl Clone for Producer {
    /// Another producer for the same ring, writing to the next lane in turn.
    fn clone(&self) -> Self {
        self.shared.producers.fetch_add(1, Ordering::Relaxed);
        let lane = self.shared.next_lane.fetch_add(1, Ordering::Relaxed) % self.shared.lanes.len();
        Self {
            shared: Arc::clone(&self.shared),
            lane,
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        if self.shared.producers.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The consumer may be waiting for records that will never come.
            self.shared.data.notify(1);
        }
    }
}

impl fmt::Debug for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("stats", &self.stats())
            .finish()
    }
}

/// The reading end: one per ring, usually handed to a [`Flusher`](crate::Flusher).
pub struct Consumer {
    pub(crate) shared: Arc<Shared>,
    /// Under `DropOldest`, the message of the record being handed over, copied out of its slot.
    copy: Vec<u8>,
}

impl Consumer {
    /// Moves up to `max` records, oldest first, into `batch` and returns how many. With several
    /// lanes, "oldest" is by timestamp: each record taken is the earliest ready in any lane.
    pub fn drain(&mut self, batch: &mut Batch, max: usize) -> usize {
        self.drain_with(max, |record| batch.push(record))
    }

    /// Hands up to `max` records, oldest first (as [`drain`](Self::drain)), to `take` and returns
    /// how many. Each record still borrows its slot in the ring, so nothing is copied; the slot
    /// is freed when `take` returns. Under `DropOldest`, whose producers take records too, a held
    /// slot would make them wait for `take`, so the record is copied out and its slot freed
    /// first. If `take` panics, the record it was handed is gone and the ring goes on.
    pub fn drain_with(&mut self, max: usize, mut take: impl FnMut(Record<'_>)) -> usize {
        let Self { shared, copy } = self;
        let shared = &**shared;
        // The ring is fullest just before the consumer takes from it.
        shared
            .high_watermark
            .fetch_max(shared.len(), Ordering::Relaxed);
        let mut taken = Taken { shared, count: 0 };
        // A `Block` producer that found the ring full waits for room until this drain ends, or
        // until it has waited `EARLY_WAKE` (a slow sink). Waking it sooner costs a system call
        // and, with a fast sink, makes producers and flusher take turns: waking every 64 records
        // measured 13% slower with two producers. So the drain reads the clock only while a
        // producer waits: once when it sees the wait, once a record later, then about when
        // `EARLY_WAKE` will have passed at the pace records have gone since, but never more than
        // twice as many records on. A fast sink gets a handful of readings per batch, a slow one
        // about one per record (doubling alone let a producer wait through hundreds of 1 ms
        // writes late in a batch).
        let mut waiting_since: Option<(Instant, usize)> = None;
        let mut next_look = 1;
        while taken.count < max {
            let Some(queue) = shared.earliest_lane() else {
                break;
            };
            let popped = if shared.overflow == Overflow::DropOldest {
                let mut header = None;
                let popped = queue.pop(|record| {
                    copy.clear();
                    copy.extend_from_slice(record.message);
                    header = Some((record.level, record.target, record.timestamp));
                });
                if let Some((level, target, timestamp)) = header {
                    take(Record {
                        level,
                        target,
                        timestamp,
                        message: copy,
                    });
                }
                popped
            } else {
                queue.pop(&mut take)
            };
            if !popped {
                // Only where a `DropOldest` producer took the record first can another lane
                // still hold one.
                if shared.lanes.len() == 1 {
                    break;
                }
                continue;
            }
            taken.count += 1;
            if taken.count >= next_look && shared.space_wanted.load(Ordering::Relaxed) {
                let now = Instant::now();
                let (since, from) = *waiting_since.get_or_insert((now, taken.count));
                let waited = now.duration_since(since);
                if waited >= EARLY_WAKE {
                    shared.space_wanted.store(false, Ordering::Relaxed);
                    shared.space.notify(usize::MAX);
                    waiting_since = None;
                    next_look = taken.count + 1;
                } else {
                    let records = (taken.count - from) as u128;
                    let ahead = match waited.as_nanos().checked_div(records) {
                        Some(pace) => ((EARLY_WAKE - waited).as_nanos() / pace.max(1))
                            .clamp(1, taken.count as u128)
                            as usize,
                        None => 1,
                    };
                    next_look = taken.count + ahead;
                }
            }
        }
        taken.count
    }

    /// Records waiting now.
    pub fn len(&self) -> usize {
        self.shared.len()
    }

    /// Whether no record is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every producer is gone and the ring is empty: nothing more will come.
    pub fn is_finished(&self) -> bool {
        self.shared.producers_gone() && self.is_empty()
    }

    /// The ring's counters.
    pub fn stats(&self) -> RingStats {
        self.shared.stats()
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.shared.consumer_alive.store(false, Ordering::Release);
        self.shared.space.notify(usize::MAX);
    }
}

impl fmt::Debug for Consumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("stats", &self.stats())
            .finish()
    }
}

/// How long a `Block` producer waiting for room may wait for a drain to end before the drain
/// wakes it (see `Consumer::drain_with`).
const EARLY_WAKE: Duration = Duration::from_millis(1);

/// Records a drain took; dropping it wakes `Block` producers waiting for room, also when the
/// drain ends in a panic (the slot of the record being taken was freed all the same).
struct Taken<'a> {
    shared: &'a Shared,
    count: usize,
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        if (self.count > 0 || std::thread::panicking()) && self.shared.overflow == Overflow::Block {
            self.shared.space_wanted.store(false, Ordering::Relaxed);
            self.shared.space.notify(usize::MAX);
        }
    }
}
