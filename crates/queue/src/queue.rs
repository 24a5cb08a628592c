use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_utils::Backoff;
use stanchion_core::{CachePadded, Counter};

use crate::sync::{AtomicU64, AtomicUsize, Event, Fifo, Listener, Ordering, notify_additional};
use crate::{ConfigError, PopError, Priority, PushError};

/// The most levels a queue may have.
pub const MAX_LEVELS: u8 = 64;

/// How consumers choose among non-empty levels.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fairness {
    /// Always the most urgent non-empty level. Low priority may starve while High keeps coming.
    #[default]
    Strict,
    /// Levels are served in proportion to their weights while they all have items (a smooth
    /// weighted round robin), and an empty level's turn goes to the most urgent non-empty one, so
    /// no level starves. `Weighted(vec![6, 3, 1])` serves High, Normal, Low as 6 : 3 : 1.
    Weighted(Vec<u32>),
}

/// Builds a [`PriorityQueue`].
#[derive(Debug, Clone)]
#[must_use]
pub struct QueueBuilder<T> {
    levels: u8,
    capacity: Option<usize>,
    fairness: Fairness,
    item: PhantomData<fn() -> T>,
}

impl<T> QueueBuilder<T> {
    /// How many levels, 1 to 64. Default 3 (`High`, `Normal`, `Low`).
    pub fn levels(mut self, levels: u8) -> Self {
        self.levels = levels;
        self
    }

    /// The most items the queue holds, all levels together; `None` (the default) for no bound.
    pub fn capacity(mut self, capacity: Option<usize>) -> Self {
        self.capacity = capacity;
        self
    }

    /// How consumers choose among levels. Default [`Fairness::Strict`].
    pub fn fairness(mut self, fairness: Fairness) -> Self {
        self.fairness = fairness;
        self
    }

    /// Validates the settings and makes the queue.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for 0 or more than 64 levels, a capacity of 0, or weights that are not one
    /// positive number per level (summing to at most 65,536).
    pub fn build(self) -> Result<PriorityQueue<T>, ConfigError> {
        let bad = |field, value: String, expected| {
            Err(ConfigError {
                field,
                value,
                expected,
            })
        };
        if self.levels == 0 || self.levels > MAX_LEVELS {
            return bad("levels", self.levels.to_string(), "1 to 64");
        }
        if self.capacity == Some(0) || self.capacity.is_some_and(|c| c >= CLOSED) {
            return bad(
                "capacity",
                format!("{:?}", self.capacity),
                "None, or from 1 to 2^63 - 1",
            );
        }
        let schedule = match &self.fairness {
            Fairness::Strict => Vec::new(),
            Fairness::Weighted(weights) => {
                if weights.len() != usize::from(self.levels)
                    || weights.contains(&0)
                    || weights.iter().map(|&w| u64::from(w)).sum::<u64>() > 65_536
                {
                    return bad(
                        "fairness",
                        format!("{weights:?}"),
                        "one weight per level, each at least 1, summing to at most 65536",
                    );
                }
                smooth_round_robin(weights)
            }
        };
        Ok(PriorityQueue {
            inner: Arc::new(Inner {
                levels: (0..self.levels).map(|_| Level::new()).collect(),
                capacity: self.capacity.unwrap_or(usize::MAX),
                state: CachePadded(AtomicUsize::new(0)),
                nonempty: CachePadded(AtomicU64::new(0)),
                schedule: schedule.into_boxed_slice(),
                not_empty: Event::new(),
                not_full: Event::new(),
            }),
        })
    }
}

/// One turn per unit of weight, each level's turns spread as evenly as possible (nginx's smooth
/// weighted round robin): weights 3 and 1 give `0 0 1 0`, not `0 0 0 1`.
fn smooth_round_robin(weights: &[u32]) -> Vec<u8> {
    let total: i64 = weights.iter().map(|&w| i64::from(w)).sum();
    let mut current = vec![0i64; weights.len()];
    (0..total)
        .map(|_| {
            for (credit, &weight) in current.iter_mut().zip(weights) {
                *credit += i64::from(weight);
            }
            let (best, _) = current
                .iter()
                .enumerate()
                .max_by_key(|&(i, &credit)| (credit, -(i as i64)))
                .expect("levels");
            current[best] -= total;
            best as u8
        })
        .collect()
}

struct Level<T> {
    fifo: Fifo<T>,
    pushed: Counter,
    popped: Counter,
    rejected: Counter,
}

impl<T> Level<T> {
    fn new() -> Self {
        Self {
            fifo: Fifo::new(),
            pushed: Counter::new(),
            popped: Counter::new(),
            rejected: Counter::new(),
        }
    }
}

/// The closed flag, in the top bit of the state word.
const CLOSED: usize = 1 << (usize::BITS - 1);

struct Inner<T> {
    levels: Box<[Level<T>]>,
    capacity: usize,
    /// The closed flag and the count of items reserved or in the queue, in one word: pushes, pops
    /// and close all change this one location, so "closed with nothing left" is never seen while a
    /// push that will succeed is under way, under any memory ordering.
    state: CachePadded<AtomicUsize>,
    /// A hint of which levels hold items (bit n for level n), so consumers skip empty levels
    /// without touching their queues' cache lines. A push sets its bit after pushing; a consumer
    /// that finds a level empty clears the bit, then looks once more, so an item is never hidden.
    nonempty: CachePadded<AtomicU64>,
    /// Weighted fairness: the level whose turn each ticket is. Empty for strict fairness.
    schedule: Box<[u8]>,
    not_empty: Event,
    not_full: Event,
}

/// A multi-producer, multi-consumer priority queue: levels served by priority or by weight, FIFO
/// within a level, an optional capacity with backpressure, blocking and async waits, and close.
///
/// Cloning is cheap; every clone is the same queue.
///
/// # Examples
///
/// ```
/// use stanchion_queue::{Priority, PriorityQueue};
///
/// let queue = PriorityQueue::builder().capacity(Some(100)).build()?;
/// queue.try_push("send newsletter", Priority::Low).unwrap();
/// queue.try_push("charge card", Priority::High).unwrap();
/// queue.try_push("resize image", Priority::Normal).unwrap();
///
/// assert_eq!(queue.try_pop(), Some(("charge card", Priority::High)));
/// let mut batch = Vec::new();
/// assert_eq!(queue.pop_batch(&mut batch, 10), 2);
/// assert_eq!(batch, ["resize image", "send newsletter"]);
/// # Ok::<(), stanchion_queue::ConfigError>(())
/// ```
pub struct PriorityQueue<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for PriorityQueue<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> fmt::Debug for PriorityQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PriorityQueue")
            .field("len", &self.len())
            .field("levels", &self.inner.levels.len())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// This thread's position in weighted schedules: consumers walk the schedule without sharing a
    /// counter.
    static TICKET: Cell<usize> = const { Cell::new(0) };
}

impl<T> PriorityQueue<T> {
    /// A builder: 3 levels, no capacity bound, strict fairness.
    pub fn builder() -> QueueBuilder<T> {
        QueueBuilder {
            levels: 3,
            capacity: None,
            fairness: Fairness::Strict,
            item: PhantomData,
        }
    }

    /// An unbounded queue with 3 levels and strict fairness.
    pub fn new() -> Self {
        Self::builder().build().expect("the defaults are valid")
    }

    fn level(&self, priority: Priority) -> Option<&Level<T>> {
        self.inner.levels.get(usize::from(priority.level()))
    }

    /// Reserves room for up to `wanted` items; returns how many it got, or `None` if closed.
    fn reserve(&self, wanted: usize) -> Option<usize> {
        let inner = &*self.inner;
        if inner.capacity == usize::MAX {
            // Unbounded: one add, undone if the queue turns out to be closed.
            let before = inner.state.0.fetch_add(wanted, Ordering::AcqRel);
            if before & CLOSED != 0 {
                self.release(wanted);
                return None;
            }
            return Some(wanted);
        }
        let mut current = inner.state.0.load(Ordering::Acquire);
        loop {
            if current & CLOSED != 0 {
                return None;
            }
            let granted = wanted.min(inner.capacity.saturating_sub(current));
            if granted == 0 {
                return Some(0);
            }
            match inner.state.0.compare_exchange_weak(
                current,
                current + granted,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(granted),
                Err(actual) => current = actual,
            }
        }
    }

    /// Gives back `count` reserved places (items popped, or a push that did not happen), waking
    /// producers waiting for room and, once closed, consumers waiting for the end.
    fn release(&self, count: usize) {
        if count == 0 {
            return;
        }
        let before = self.inner.state.0.fetch_sub(count, Ordering::AcqRel);
        if self.inner.capacity != usize::MAX {
            notify_additional(&self.inner.not_full, count);
        }
        if before & CLOSED != 0 {
            self.inner.not_empty.notify(usize::MAX);
        }
    }

    /// Pushes `item` at `priority` unless the queue is full or closed.
    ///
    /// # Errors
    ///
    /// The item comes back in [`PushError::Full`], [`PushError::Closed`] or
    /// [`PushError::NoSuchLevel`].
    pub fn try_push(&self, item: T, priority: Priority) -> Result<(), PushError<T>> {
        let Some(level) = self.level(priority) else {
            return Err(PushError::NoSuchLevel {
                item,
                level: priority.level(),
            });
        };
        match self.reserve(1) {
            Some(1) => {}
            refused => {
                level.rejected.increment();
                return Err(if refused.is_none() {
                    PushError::Closed(item)
                } else {
                    PushError::Full(item)
                });
            }
        }
        level.fifo.push(item);
        self.mark_nonempty(priority.level());
        level.pushed.increment();
        notify_additional(&self.inner.not_empty, 1);
        Ok(())
    }

    /// Pushes items from the front of `items` at `priority` while there is room, reserving room for
    /// all of them at once; returns how many were pushed. What could not be pushed stays in `items`.
    pub fn try_push_batch(&self, items: &mut Vec<T>, priority: Priority) -> usize {
        let Some(level) = self.level(priority) else {
            return 0;
        };
        let granted = self.reserve(items.len()).unwrap_or(0);
        if granted < items.len() {
            level.rejected.add((items.len() - granted) as u64);
        }
        if granted == 0 {
            return 0;
        }
        for item in items.drain(..granted) {
            level.fifo.push(item);
        }
        self.mark_nonempty(priority.level());
        level.pushed.add(granted as u64);
        notify_additional(&self.inner.not_empty, granted);
        granted
    }

    /// Pushes `item`, waiting while the queue is full.
    ///
    /// # Errors
    ///
    /// [`PushError::Closed`] if the queue is closed before there is room, or
    /// [`PushError::NoSuchLevel`].
    pub fn push(&self, mut item: T, priority: Priority) -> Result<(), PushError<T>> {
        // Room usually comes back within a few hundred nanoseconds: spin briefly before parking.
        let backoff = Backoff::new();
        loop {
            match self.try_push(item, priority) {
                Err(PushError::Full(back)) => item = back,
                done => return done,
            }
            if !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            let listener = self.inner.not_full.listen();
            match self.try_push(item, priority) {
                Err(PushError::Full(back)) => item = back,
                done => return done,
            }
            listener.wait();
        }
    }

    /// Pushes `item`, waiting asynchronously while the queue is full.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push).
    #[cfg(not(stanchion_loom))]
    pub async fn push_async(&self, mut item: T, priority: Priority) -> Result<(), PushError<T>> {
        loop {
            match self.try_push(item, priority) {
                Err(PushError::Full(back)) => item = back,
                done => return done,
            }
            let listener = self.inner.not_full.listen();
            match self.try_push(item, priority) {
                Err(PushError::Full(back)) => item = back,
                done => return done,
            }
            listener.await;
        }
    }

    #[inline]
    fn mark_nonempty(&self, level: u8) {
        let bit = 1u64 << level;
        // Read first: a level that already shows items costs no write, so no cache line moves.
        if self.inner.nonempty.0.load(Ordering::Acquire) & bit == 0 {
            self.inner.nonempty.0.fetch_or(bit, Ordering::AcqRel);
        }
    }

    /// Pops from `level`; if it is empty, clears its hint bit and looks once more, so a push that
    /// set the bit just before the clear is not hidden.
    #[inline]
    fn pop_level(&self, level: u8) -> Option<T> {
        let fifo = &self.inner.levels[usize::from(level)].fifo;
        if let Some(item) = fifo.pop() {
            return Some(item);
        }
        self.inner
            .nonempty
            .0
            .fetch_and(!(1u64 << level), Ordering::AcqRel);
        let item = fifo.pop()?;
        self.mark_nonempty(level);
        Some(item)
    }

    /// The next item by fairness, and its level; does not release its place.
    fn take(&self) -> Option<(T, u8)> {
        let inner = &*self.inner;
        let mut hint = inner.nonempty.0.load(Ordering::Acquire);
        if !inner.schedule.is_empty() {
            let ticket = TICKET.with(|ticket| {
                let t = ticket.get();
                ticket.set(t.wrapping_add(1));
                t
            });
            let preferred = inner.schedule[ticket % inner.schedule.len()];
            if hint & (1 << preferred) != 0 {
                if let Some(item) = self.pop_level(preferred) {
                    return Some((item, preferred));
                }
                hint &= !(1 << preferred);
            }
        }
        while hint != 0 {
            let level = hint.trailing_zeros() as u8;
            if let Some(item) = self.pop_level(level) {
                return Some((item, level));
            }
            hint &= hint - 1;
        }
        None
    }

    /// Takes the next item without waiting: the most urgent level's oldest item under strict
    /// fairness, the scheduled level's under weighted fairness.
    pub fn try_pop(&self) -> Option<(T, Priority)> {
        let (item, level) = self.take()?;
        self.inner.levels[usize::from(level)].popped.increment();
        self.release(1);
        Some((item, Priority::from_level(level)))
    }

    /// Moves up to `max` items into `out`, in the order [`try_pop`](Self::try_pop) would give
    /// them, without waiting; returns how many.
    pub fn pop_batch(&self, out: &mut Vec<T>, max: usize) -> usize {
        let mut taken = 0;
        while taken < max {
            let Some((item, level)) = self.take() else {
                break;
            };
            self.inner.levels[usize::from(level)].popped.increment();
            out.push(item);
            taken += 1;
        }
        self.release(taken);
        taken
    }

    /// Whether the queue is closed and holds nothing, and no push can still land in it.
    fn drained(&self) -> bool {
        self.inner.state.0.load(Ordering::Acquire) == CLOSED
    }

    /// Takes the next item, waiting for one; `None` once the queue is closed and drained.
    pub fn pop(&self) -> Option<(T, Priority)> {
        self.pop_until(None).ok()
    }

    /// Takes the next item, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`PopError::Timeout`] if nothing came in time, [`PopError::Closed`] once closed and drained.
    pub fn pop_timeout(&self, timeout: Duration) -> Result<(T, Priority), PopError> {
        self.pop_until(Some(Instant::now() + timeout))
    }

    fn pop_until(&self, deadline: Option<Instant>) -> Result<(T, Priority), PopError> {
        // An item usually comes within a few hundred nanoseconds when producers are busy: spin
        // briefly (a bounded backoff, then yields) before parking, which costs a system call.
        let backoff = Backoff::new();
        loop {
            if let Some(found) = self.try_pop() {
                return Ok(found);
            }
            if self.drained() {
                return Err(PopError::Closed);
            }
            if !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            // Listen, then look again: a push between the look and the listen is not missed.
            let listener = self.inner.not_empty.listen();
            if let Some(found) = self.try_pop() {
                return Ok(found);
            }
            if self.drained() {
                return Err(PopError::Closed);
            }
            match deadline {
                None => listener.wait(),
                Some(deadline) => {
                    if listener.wait_deadline(deadline).is_none() {
                        return self.try_pop().ok_or(PopError::Timeout);
                    }
                }
            }
        }
    }

    /// Takes the next item, waiting asynchronously; `None` once the queue is closed and drained.
    #[cfg(not(stanchion_loom))]
    pub async fn pop_async(&self) -> Option<(T, Priority)> {
        loop {
            if let Some(found) = self.try_pop() {
                return Some(found);
            }
            if self.drained() {
                return None;
            }
            let listener = self.inner.not_empty.listen();
            if let Some(found) = self.try_pop() {
                return Some(found);
            }
            if self.drained() {
                return None;
            }
            listener.await;
        }
    }

    /// Closes the queue: pushes fail with [`PushError::Closed`] from now on, and consumers take
    /// what is left, then see the end. A push racing the close either fails or is delivered.
    pub fn close(&self) {
        self.inner.state.0.fetch_or(CLOSED, Ordering::AcqRel);
        self.inner.not_empty.notify(usize::MAX);
        self.inner.not_full.notify(usize::MAX);
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.state.0.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Items in the queue (and pushes in flight), all levels together.
    pub fn len(&self) -> usize {
        self.inner.state.0.load(Ordering::Relaxed) & !CLOSED
    }

    /// Whether the queue holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Items waiting at `priority`; 0 for a level the queue does not have.
    pub fn len_of(&self, priority: Priority) -> usize {
        self.level(priority).map_or(0, |level| level.fifo.len())
    }

    /// The capacity, if bounded.
    pub fn capacity(&self) -> Option<usize> {
        (self.inner.capacity != usize::MAX).then_some(self.inner.capacity)
    }

    /// Counts per level, from cheap striped counters.
    pub fn stats(&self) -> Stats {
        Stats {
            levels: self
                .inner
                .levels
                .iter()
                .enumerate()
                .map(|(level, l)| LevelStats {
                    priority: Priority::from_level(level as u8),
                    len: l.fifo.len(),
                    pushed: l.pushed.get(),
                    popped: l.popped.get(),
                    rejected: l.rejected.get(),
                })
                .collect(),
        }
    }
}

impl<T> Default for PriorityQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A snapshot of a queue's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// One entry per level, most urgent first.
    pub levels: Vec<LevelStats>,
}

/// The counters of one level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LevelStats {
    /// The level.
    pub priority: Priority,
    /// Items waiting.
    pub len: usize,
    /// Items pushed, ever.
    pub pushed: u64,
    /// Items popped, ever.
    pub popped: u64,
    /// Pushes refused (full or closed), ever.
    pub rejected: u64,
}

#[cfg(all(test, not(stanchion_loom)))]
mod tests {
    use super::*;

    #[test]
    fn smooth_schedules_interleave() {
        assert_eq!(smooth_round_robin(&[3, 1]), [0, 0, 1, 0]);
        assert_eq!(smooth_round_robin(&[1, 1, 1]), [0, 1, 2]);
        let schedule = smooth_round_robin(&[6, 3, 1]);
        let count = |level| schedule.iter().filter(|&&l| l == level).count();
        assert_eq!((count(0), count(1), count(2)), (6, 3, 1));
        assert!(schedule.windows(2).all(|w| !(w[0] == 2 && w[1] == 2)));
    }

    #[test]
    fn bad_settings_are_named() {
        let error = |builder: QueueBuilder<u8>| builder.build().unwrap_err().to_string();
        assert_eq!(
            error(PriorityQueue::builder().levels(0)),
            "invalid queue configuration: levels is 0, expected 1 to 64"
        );
        assert!(error(PriorityQueue::builder().capacity(Some(0))).contains("capacity is Some(0)"));
        assert!(
            error(PriorityQueue::builder().capacity(Some(usize::MAX)))
                .contains("capacity is Some(")
        );
        assert!(
            error(PriorityQueue::builder().fairness(Fairness::Weighted(vec![1, 0, 1])))
                .contains("fairness is [1, 0, 1]")
        );
        assert!(
            error(PriorityQueue::builder().fairness(Fairness::Weighted(vec![1, 1])))
                .contains("one weight per level")
        );
    }
}
