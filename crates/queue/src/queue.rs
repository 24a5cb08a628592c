use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use stanchion_core::sync::Backoff;
use stanchion_core::{CachePadded, Counter};

use crate::fifo::{Fifo, Refused};
use crate::sync::{
    AtomicBool, AtomicUsize, Event, Listener, Ordering, fence, notify_additional, seq_cst_rmw_done,
};
use crate::{ConfigError, PopError, Priority, PushError};

/// Whether `deadline` has passed.
fn expired(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|deadline| Instant::now() >= deadline)
}

/// How many times an async wait yields to the executor, looking again after each, before it parks:
/// the async counterpart of the blocking calls' brief spin. In a busy queue the item or the room
/// comes within a few yields, and a task that is not parked spares the other side a call to the
/// event (a lock) and itself a wake-up through the executor. Parking at once took 2.6 ms to move
/// 20,000 8-byte items between two producer and two consumer tasks; yielding first, 0.5 ms
/// (4 yields did nearly as well, 64 no better; see docs/queue.md).
#[cfg(not(stanchion_loom))]
const ASYNC_YIELDS: u32 = 16;

/// Lets the executor run other tasks once.
#[cfg(not(stanchion_loom))]
async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

/// The most levels a queue may have.
pub const MAX_LEVELS: u8 = 64;

/// The most places a bounded queue holds, all levels together (`levels × capacity`): a bounded
/// level allocates all its places when it is built.
pub const MAX_CAPACITY: usize = 1 << 26;

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

    /// The most items each level holds; `None` (the default) for no bound. A bounded level
    /// allocates its places up front, and `levels × capacity` may be at most [`MAX_CAPACITY`].
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
    /// [`ConfigError`] for 0 or more than 64 levels, a capacity of 0 or whose `levels × capacity`
    /// exceeds [`MAX_CAPACITY`], or
    /// weights that are not one positive number per level (summing to at most 65,536).
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
        let places = |c: usize| c.saturating_mul(usize::from(self.levels));
        if self.capacity == Some(0) || self.capacity.is_some_and(|c| places(c) > MAX_CAPACITY) {
            return bad(
                "capacity",
                format!("{:?}", self.capacity),
                "None, or at least 1 per level and at most 2^26 for all levels together",
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
                levels: (0..self.levels)
                    .map(|_| CachePadded(Level::new(self.capacity)))
                    .collect(),
                capacity: self.capacity,
                schedule: schedule.into_boxed_slice(),
                tickets: Counter::new(),
                closed: AtomicBool::new(false),
                items: Waiters::new(),
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

/// Threads parked on an event, and how many: the side that makes progress wakes only when someone
/// is parked, because event-listener's `notify` takes a lock every time it is called.
///
/// The count and the queue's state form a Dekker handshake. A waiter listens, counts itself, then
/// fences and looks at the queue once more before parking. A waker changes the queue with a
/// sequentially consistent read-modify-write (the ring's compare-and-swap on its tail or head; an
/// unbounded level fences after its push instead), then reads the count, sequentially consistent
/// too. The C++20 model orders a fence with such operations, so either the waiter's last look sees
/// the change or the waker sees the count; the count's increment, made after listening, also
/// publishes the listener to the waker's `notify`. On x86 this costs the waker one plain load.
/// loom checks both sides.
struct Waiters {
    parked: CachePadded<AtomicUsize>,
    event: Event,
}

impl Waiters {
    fn new() -> Self {
        Self {
            parked: CachePadded(AtomicUsize::new(0)),
            event: Event::new(),
        }
    }

    /// Counts the caller as parked and listens. The caller looks at the queue once more, then
    /// waits on the returned guard, which uncounts it when dropped.
    fn park(&self) -> Parked<'_, impl Listener> {
        let listener = self.event.listen();
        self.parked.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        Parked {
            waiters: self,
            listener: Some(listener),
        }
    }

    /// Wakes `count` parked threads beyond those already woken, after the caller's change to the
    /// queue (a sequentially consistent read-modify-write, or one followed by a fence).
    #[inline]
    fn wake(&self, count: usize) {
        if self.parked.load(Ordering::SeqCst) != 0 {
            notify_additional(&self.event, count);
        }
    }

    /// Wakes every parked thread.
    fn wake_all(&self) {
        self.wake(usize::MAX);
    }
}

/// A thread counted as parked on [`Waiters`], with its listener.
struct Parked<'a, L> {
    waiters: &'a Waiters,
    listener: Option<L>,
}

impl<L: Listener> Parked<'_, L> {
    /// Blocks until notified.
    fn wait(mut self) {
        if let Some(listener) = self.listener.take() {
            listener.wait();
        }
    }

    /// Blocks until notified or `deadline`; whether it was notified.
    fn wait_deadline(mut self, deadline: Instant) -> bool {
        self.listener
            .take()
            .is_some_and(|listener| listener.wait_deadline(deadline).is_some())
    }
}

impl<L: Future<Output = ()> + Unpin> Future for Parked<'_, L> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.listener.as_mut() {
            Some(listener) => Pin::new(listener).poll(cx),
            None => Poll::Ready(()),
        }
    }
}

impl<L> Drop for Parked<'_, L> {
    fn drop(&mut self) {
        self.waiters.parked.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Level<T> {
    fifo: Fifo<T>,
    /// Producers waiting in `push` for room at this level.
    room: Waiters,
    rejected: Counter,
}

impl<T> Level<T> {
    fn new(capacity: Option<usize>) -> Self {
        Self {
            fifo: Fifo::new(capacity),
            room: Waiters::new(),
            rejected: Counter::new(),
        }
    }

    /// After `count` items were taken from this level: wakes as many producers waiting for room.
    #[inline]
    fn taken(&self, count: usize, bounded: bool) {
        if bounded {
            self.room.wake(count);
        }
    }
}

struct Inner<T> {
    /// Each level on cache lines of its own: pushes and pops at one level do not slow another's.
    levels: Box<[CachePadded<Level<T>>]>,
    /// Places per level, if bounded.
    capacity: Option<usize>,
    /// Weighted fairness: the level whose turn each ticket is. Empty for strict fairness.
    schedule: Box<[u8]>,
    /// Where each consumer is in the schedule: a sequence per thread (by stripe), so consumers
    /// walk it without sharing a counter, and per queue, so a thread popping from two queues
    /// walks each schedule whole.
    tickets: Counter,
    /// Set by `close`, after every level is closed.
    closed: AtomicBool,
    /// Consumers waiting for an item, or for the end.
    items: Waiters,
}

/// An item taken with its level's index, as the caller gets it.
fn with_priority<T>((item, level): (T, usize)) -> (T, Priority) {
    (item, Priority::from_level(level as u8))
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
        self.inner
            .levels
            .get(usize::from(priority.level()))
            .map(|level| &level.0)
    }

    fn bounded(&self) -> bool {
        self.inner.capacity.is_some()
    }

    /// Pushes `item` at `priority` unless its level is full or the queue is closed.
    ///
    /// # Errors
    ///
    /// The item comes back in [`PushError::Full`], [`PushError::Closed`] or
    /// [`PushError::NoSuchLevel`].
    pub fn try_push(&self, item: T, priority: Priority) -> Result<(), PushError<T>> {
        self.count_refusal(self.push_uncounted(item, priority), priority)
    }

    /// [`try_push`](Self::try_push) without counting a refusal: a blocking push that retries
    /// while full counts once, when it finally fails.
    #[inline(always)]
    fn push_uncounted(&self, item: T, priority: Priority) -> Result<(), PushError<T>> {
        let Some(level) = self.level(priority) else {
            return Err(PushError::NoSuchLevel {
                item,
                level: priority.level(),
            });
        };
        match level.fifo.push(item) {
            Ok(()) => {
                self.inner.items.wake(1);
                Ok(())
            }
            Err(Refused::Full(item)) => Err(PushError::Full(item)),
            Err(Refused::Closed(item)) => Err(PushError::Closed(item)),
        }
    }

    /// Counts a refused push, once per call: a blocking push that found its level full many
    /// times before the queue closed counts one refusal.
    fn count_refusal(
        &self,
        result: Result<(), PushError<T>>,
        priority: Priority,
    ) -> Result<(), PushError<T>> {
        if matches!(result, Err(PushError::Full(_) | PushError::Closed(_)))
            && let Some(level) = self.level(priority)
        {
            level.rejected.increment();
        }
        result
    }

    /// Pushes items from the front of `items` at `priority` while there is room, and returns how
    /// many were pushed: fewer than were given when the level filled up. What could not be pushed
    /// stays in `items`, in order. A bounded level takes each run of free places with one
    /// compare-and-swap.
    ///
    /// # Errors
    ///
    /// [`PushError::Closed`] if the queue is closed before every item is in (the items pushed
    /// before the close are in the queue), or [`PushError::NoSuchLevel`]; what was not pushed
    /// stays in `items`, in order. A caller retrying while items are left stops on these, where
    /// a count of zero could mean either a full level or a queue that will never take them.
    pub fn try_push_batch(
        &self,
        items: &mut Vec<T>,
        priority: Priority,
    ) -> Result<usize, PushError<()>> {
        let Some(level) = self.level(priority) else {
            return Err(PushError::NoSuchLevel {
                item: (),
                level: priority.level(),
            });
        };
        let pushed = self.push_from(level, items);
        if items.is_empty() {
            return Ok(pushed);
        }
        level.rejected.add(items.len() as u64);
        if level.fifo.is_closed() {
            return Err(PushError::Closed(()));
        }
        Ok(pushed)
    }

    /// Pushes every item of `items` at `priority`, in order, waiting while the level is full, and
    /// leaves `items` empty. Like [`try_push_batch`](Self::try_push_batch), each run of free
    /// places is taken at once.
    ///
    /// # Errors
    ///
    /// [`PushError::Closed`] if the queue is closed before every item is in, or
    /// [`PushError::NoSuchLevel`]; what was not pushed stays in `items`, in order.
    pub fn push_batch(&self, items: &mut Vec<T>, priority: Priority) -> Result<(), PushError<()>> {
        let Some(level) = self.level(priority) else {
            return Err(PushError::NoSuchLevel {
                item: (),
                level: priority.level(),
            });
        };
        let refused = |items: &Vec<T>| {
            level.rejected.add(items.len() as u64);
            Err(PushError::Closed(()))
        };
        // As in `push`: spin for a run of room, then park. The two loops are kept apart on
        // purpose: one helper taking the attempt as a closure made `push` 45% slower with 8-byte
        // items (scratch program, three rounds), the cost of the inlining `push` relies on.
        let backoff = Backoff::new();
        loop {
            self.push_from(level, items);
            if items.is_empty() {
                return Ok(());
            }
            if level.fifo.is_closed() {
                return refused(items);
            }
            while !backoff.is_completed() && !level.fifo.has_run_of_room() {
                backoff.snooze();
            }
            if !backoff.is_completed() {
                continue;
            }
            let parked = level.room.park();
            self.push_from(level, items);
            if items.is_empty() {
                return Ok(());
            }
            if level.fifo.is_closed() {
                return refused(items);
            }
            parked.wait();
        }
    }

    /// Moves what fits from the front of `items` into `level` and wakes as many consumers.
    fn push_from(&self, level: &Level<T>, items: &mut Vec<T>) -> usize {
        let pushed = level.fifo.push_from(items);
        if pushed > 0 {
            self.inner.items.wake(pushed);
        }
        pushed
    }

    /// Pushes `item`, waiting while its level is full.
    ///
    /// # Errors
    ///
    /// [`PushError::Closed`] if the queue is closed before there is room, or
    /// [`PushError::NoSuchLevel`].
    // Inlined into the caller, down to the ring's write: a call made the first read of a large
    // item wait on the caller's narrower stores that wrote it (a store-forwarding stall, a third
    // of a 64-byte push), where inlined the item goes from registers into its place.
    #[inline]
    pub fn push(&self, mut item: T, priority: Priority) -> Result<(), PushError<T>> {
        // Room usually comes back within a few hundred nanoseconds: spin briefly before parking.
        let backoff = Backoff::new();
        loop {
            match self.push_uncounted(item, priority) {
                Err(PushError::Full(back)) => item = back,
                done => return self.count_refusal(done, priority),
            }
            let Some(level) = self.level(priority) else {
                unreachable!("push_uncounted checked the level");
            };
            // Wait for a run of free places rather than the first one (see `Fifo::has_run_of_room`).
            while !backoff.is_completed() && !level.fifo.has_run_of_room() {
                backoff.snooze();
            }
            if !backoff.is_completed() {
                continue;
            }
            let parked = level.room.park();
            match self.push_uncounted(item, priority) {
                Err(PushError::Full(back)) => item = back,
                done => return self.count_refusal(done, priority),
            }
            parked.wait();
        }
    }

    /// Pushes `item`, waiting asynchronously while its level is full.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push).
    #[cfg(not(stanchion_loom))]
    pub async fn push_async(&self, mut item: T, priority: Priority) -> Result<(), PushError<T>> {
        let mut yields = 0;
        loop {
            match self.push_uncounted(item, priority) {
                Err(PushError::Full(back)) => item = back,
                done => return self.count_refusal(done, priority),
            }
            let Some(level) = self.level(priority) else {
                unreachable!("push_uncounted checked the level");
            };
            // As `push` spins, yield until a run of places is free; then park.
            while yields < ASYNC_YIELDS && !level.fifo.has_run_of_room() {
                yields += 1;
                yield_now().await;
            }
            if yields < ASYNC_YIELDS {
                continue;
            }
            let parked = level.room.park();
            match self.push_uncounted(item, priority) {
                Err(PushError::Full(back)) => item = back,
                done => return self.count_refusal(done, priority),
            }
            parked.await;
        }
    }

    /// Pops from `level`: `None` if it is empty, or if the push its head waits for has not
    /// finished (see [`Fifo`]).
    #[inline(always)]
    fn pop_level(&self, level: usize) -> Option<T> {
        self.inner.levels[level].fifo.pop()
    }

    /// The next item by fairness, and its level.
    #[inline(always)]
    fn take(&self) -> Option<(T, usize)> {
        let inner = &*self.inner;
        if !inner.schedule.is_empty() {
            let ticket = inner.tickets.next_on_stripe() as usize;
            let preferred = usize::from(inner.schedule[ticket % inner.schedule.len()]);
            if let Some(item) = self.pop_level(preferred) {
                return Some((item, preferred));
            }
        }
        for level in 0..inner.levels.len() {
            if let Some(item) = self.pop_level(level) {
                return Some((item, level));
            }
        }
        None
    }

    /// After items were taken: once the queue is closed, every parked consumer looks again,
    /// since the queue may now be drained.
    #[inline]
    fn wake_if_closed(&self) {
        if self.inner.closed.load(Ordering::Relaxed) {
            self.inner.items.wake_all();
        }
    }

    /// Takes the next item without waiting: the most urgent level's oldest item under strict
    /// fairness, the scheduled level's under weighted fairness.
    pub fn try_pop(&self) -> Option<(T, Priority)> {
        self.take_counted().map(with_priority)
    }

    /// [`try_pop`](Self::try_pop) with the level as an index. The blocking and async pops loop on
    /// this and name the priority once, on the way out: `(T, Priority)` ends in two bytes, so
    /// every move of it copies a chunk at an odd offset, which stalls reading back the stores
    /// that wrote it (a store-forwarding stall); `(T, usize)` moves in aligned chunks.
    #[inline(always)]
    fn take_counted(&self) -> Option<(T, usize)> {
        let (item, level) = self.take()?;
        self.inner.levels[level].taken(1, self.bounded());
        self.wake_if_closed();
        Some((item, level))
    }

    /// Moves up to `max` items into `out`, in the order [`try_pop`](Self::try_pop) would give
    /// them, without waiting; returns how many.
    pub fn pop_batch(&self, out: &mut Vec<T>, max: usize) -> usize {
        let bounded = self.bounded();
        let mut taken = 0;
        if self.inner.schedule.is_empty() {
            // Strict: as many as wanted from each level in turn, each level's claimed at once.
            for level in self.inner.levels.iter() {
                if taken == max {
                    break;
                }
                let count = level.fifo.pop_into(out, max - taken);
                if count > 0 {
                    level.taken(count, bounded);
                    taken += count;
                }
            }
        } else {
            // Weighted: ticket by ticket.
            while taken < max {
                let Some((item, level)) = self.take() else {
                    break;
                };
                out.push(item);
                self.inner.levels[level].taken(1, bounded);
                taken += 1;
            }
        }
        if taken > 0 {
            self.wake_if_closed();
        }
        taken
    }

    /// Whether the queue is closed and holds nothing, so no item can come any more. The flag
    /// first: a waiting consumer calls this in its spin, and the levels' tails are lines every
    /// push writes.
    fn drained(&self) -> bool {
        self.is_closed()
            && self
                .inner
                .levels
                .iter()
                .all(|level| level.fifo.is_closed() && level.fifo.is_empty())
    }

    /// Takes the next item, waiting for one; `None` once the queue is closed and drained.
    pub fn pop(&self) -> Option<(T, Priority)> {
        self.pop_until(None).ok().map(with_priority)
    }

    /// Takes the next item, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`PopError::Timeout`] if nothing came in time, [`PopError::Closed`] once closed and drained.
    pub fn pop_timeout(&self, timeout: Duration) -> Result<(T, Priority), PopError> {
        // A timeout too long to form a deadline waits as long as it takes.
        self.pop_until(Instant::now().checked_add(timeout))
            .map(with_priority)
    }

    fn pop_until(&self, deadline: Option<Instant>) -> Result<(T, usize), PopError> {
        // An item usually comes within a few hundred nanoseconds when producers are busy: spin
        // briefly (a bounded backoff, then yields) before parking, which costs a system call.
        let backoff = Backoff::new();
        loop {
            if let Some(found) = self.take_counted() {
                return Ok(found);
            }
            if self.drained() {
                return Err(PopError::Closed);
            }
            if expired(deadline) {
                return Err(PopError::Timeout);
            }
            if !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            // Park, then look again: a push between the look and the park is not missed. A push
            // that has claimed its place but not yet written its item keeps this consumer
            // spinning rather than parked, since its claim is what the handshake sees.
            let parked = self.inner.items.park();
            loop {
                if let Some(found) = self.take_counted() {
                    return Ok(found);
                }
                if self.is_empty() {
                    break;
                }
                if expired(deadline) {
                    return Err(PopError::Timeout);
                }
                backoff.snooze();
            }
            if self.drained() {
                return Err(PopError::Closed);
            }
            match deadline {
                None => parked.wait(),
                Some(deadline) => {
                    if !parked.wait_deadline(deadline) {
                        return self.take_counted().ok_or(PopError::Timeout);
                    }
                }
            }
        }
    }

    /// Takes the next item, waiting asynchronously; `None` once the queue is closed and drained.
    #[cfg(not(stanchion_loom))]
    pub async fn pop_async(&self) -> Option<(T, Priority)> {
        let mut yields = 0;
        loop {
            if let Some(found) = self.take_counted() {
                return Some(with_priority(found));
            }
            if self.drained() {
                return None;
            }
            // As `pop` spins, yield a few times before parking.
            if yields < ASYNC_YIELDS {
                yields += 1;
                yield_now().await;
                continue;
            }
            // As in `pop`, yielding to the executor while a push finishes writing its item.
            let parked = self.inner.items.park();
            loop {
                if let Some(found) = self.take_counted() {
                    return Some(with_priority(found));
                }
                if self.is_empty() {
                    break;
                }
                yield_now().await;
            }
            if self.drained() {
                return None;
            }
            parked.await;
        }
    }

    /// Closes the queue: pushes fail with [`PushError::Closed`] from now on, and consumers take
    /// what is left, then see the end. A push racing the close either fails or is delivered.
    pub fn close(&self) {
        for level in self.inner.levels.iter() {
            level.fifo.close();
            level.room.wake_all();
        }
        // Once every level is marked, so that whoever sees the flag sees pushes refused. A
        // read-modify-write, like a ring's claim, for the handshake with parked consumers.
        self.inner.closed.swap(true, Ordering::SeqCst);
        seq_cst_rmw_done();
        self.inner.items.wake_all();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Items in the queue, all levels together (a snapshot: pushes and pops go on meanwhile).
    pub fn len(&self) -> usize {
        self.inner.levels.iter().map(|level| level.fifo.len()).sum()
    }

    /// Whether the queue holds nothing.
    pub fn is_empty(&self) -> bool {
        self.inner.levels.iter().all(|level| level.fifo.is_empty())
    }

    /// Items waiting at `priority`; 0 for a level the queue does not have.
    pub fn len_of(&self, priority: Priority) -> usize {
        self.level(priority).map_or(0, |level| level.fifo.len())
    }

    /// The capacity of each level, if bounded.
    pub fn capacity(&self) -> Option<usize> {
        self.inner.capacity
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
                    pushed: l.fifo.pushed(),
                    popped: l.fifo.popped(),
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
            error(PriorityQueue::builder().capacity(Some(MAX_CAPACITY / 3 + 1)))
                .contains("capacity is Some(22369622), expected None, or at least 1 per level")
        );
        assert!(
            error(PriorityQueue::builder().capacity(Some(usize::MAX)))
                .contains("at most 2^26 for all levels together")
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
