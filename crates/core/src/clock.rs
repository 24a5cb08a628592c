use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

#[cfg(not(stanchion_loom))]
use crate::sync::SeqPair;

/// A source of time, injected into every time-dependent component.
///
/// `now()` is monotonic: it never goes backwards, and it is what windows, timeouts and deadlines are
/// measured with. `wall()` is calendar time, for timestamps that leave the process (log records,
/// stored jobs); it may jump when the system clock is set.
///
/// Implemented by [`SystemClock`], [`ManualClock`], and by references, `Box` and `Arc` of any clock,
/// so a component can hold an `Arc<dyn Clock>` shared with the rest of a program.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use stanchion_core::{Clock, SystemClock};
///
/// let clock: Arc<dyn Clock> = Arc::new(SystemClock);
/// let earlier = clock.now();
/// assert!(clock.now() >= earlier);
/// ```
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current monotonic instant.
    fn now(&self) -> Instant;

    /// The current wall-clock time.
    fn wall(&self) -> SystemTime;

    /// A reading for timing a span, as cheap as this clock can take one; only [`span`](Self::span)
    /// of the same clock reads it. [`SystemClock`] reads the CPU's time-stamp counter where it is
    /// reliable, about twice as fast as `now()`; the default is `now()`.
    #[inline]
    fn mark(&self) -> Mark {
        Mark(Reading::Instant(self.now()))
    }

    /// The time from `start` to `end`, two [`mark`](Self::mark)s of this clock; zero unless `end`
    /// is after `start`.
    #[inline]
    fn span(&self, start: Mark, end: Mark) -> Duration {
        match (start.0, end.0) {
            (Reading::Instant(start), Reading::Instant(end)) => {
                end.saturating_duration_since(start)
            }
            _ => Duration::ZERO,
        }
    }

    /// The nanoseconds from `start`, a [`mark`](Self::mark) of this clock, to now (saturating at
    /// `u64::MAX`; zero unless now is after `start`). It is `span(start, mark())` in one call and
    /// without a `Duration` in between, which makes it the cheapest way to check a deadline.
    #[inline]
    fn nanos_since(&self, start: Mark) -> u64 {
        saturating_nanos(self.span(start, self.mark()))
    }

    /// A [`Stopwatch`] started now that reads this clock without a call through this trait, if
    /// the clock has one: [`SystemClock`]'s reads the time-stamp counter. The default is `None`;
    /// [`Stopwatch::start`] then reads through the trait.
    #[inline]
    fn direct_stopwatch(&self) -> Option<Stopwatch> {
        None
    }
}

/// A duration in whole nanoseconds, `u64::MAX` if it does not fit.
fn saturating_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// A reading of a [`Clock`] for timing a span, from [`Clock::mark`]; compare two with
/// [`Clock::span`]. It says nothing by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark(Reading);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    Instant(Instant),
    /// A raw count of quanta's source (the time-stamp counter), scaled only when subtracted.
    Counter(u64),
}

/// A clock behind a reference or a smart pointer is the clock it points to.
macro_rules! forward_clock {
    ($($pointer:ty),*) => {$(
        impl<C: Clock + ?Sized> Clock for $pointer {
            fn now(&self) -> Instant {
                (**self).now()
            }

            fn wall(&self) -> SystemTime {
                (**self).wall()
            }

            #[inline]
            fn mark(&self) -> Mark {
                (**self).mark()
            }

            #[inline]
            fn span(&self, start: Mark, end: Mark) -> Duration {
                (**self).span(start, end)
            }

            #[inline]
            fn nanos_since(&self, start: Mark) -> u64 {
                (**self).nanos_since(start)
            }

            #[inline]
            fn direct_stopwatch(&self) -> Option<Stopwatch> {
                (**self).direct_stopwatch()
            }
        }
    )*};
}

forward_clock!(&C, Box<C>, Arc<C>);

/// The operating system's clocks: `Instant::now()` and `SystemTime::now()`.
///
/// # Examples
///
/// ```
/// use stanchion_core::{Clock, SystemClock};
///
/// let before = std::time::Instant::now();
/// assert!(SystemClock.now() >= before);
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[inline]
    fn now(&self) -> Instant {
        Instant::now()
    }

    #[inline]
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }

    #[inline]
    fn mark(&self) -> Mark {
        Mark(Reading::Counter(counter().raw()))
    }

    #[inline]
    fn span(&self, start: Mark, end: Mark) -> Duration {
        match (start.0, end.0) {
            (Reading::Counter(start), Reading::Counter(end)) => counter().delta(start, end),
            _ => Duration::ZERO,
        }
    }

    #[inline]
    fn nanos_since(&self, start: Mark) -> u64 {
        match start.0 {
            Reading::Counter(start) => {
                let counter = counter();
                counter.delta_as_nanos(start, counter.raw())
            }
            Reading::Instant(_) => 0,
        }
    }

    fn direct_stopwatch(&self) -> Option<Stopwatch> {
        let counter = counter();
        Some(Stopwatch(Watch::Counter {
            counter,
            start: counter.raw(),
            nanos_per_2_32_ticks: counter.delta_as_nanos(0, 1 << 32),
        }))
    }
}

/// Nanoseconds since it was started, for a component that checks deadlines on every call (cache
/// expiry): on [`SystemClock`] one read of the time-stamp counter and one multiply, where
/// [`Clock::nanos_since`] through a `dyn Clock` costs a call through the trait and a scaling by
/// quanta, about as much again as the counter read.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use stanchion_core::{ManualClock, Stopwatch, SystemClock};
///
/// let clock = ManualClock::new();
/// let watch = Stopwatch::start(Arc::new(clock.clone()));
/// clock.advance(Duration::from_micros(3));
/// assert_eq!(watch.nanos(), 3_000);
///
/// let system = Stopwatch::start(Arc::new(SystemClock));
/// std::thread::sleep(Duration::from_millis(1));
/// assert!(system.nanos() >= 1_000_000);
/// ```
#[derive(Debug, Clone)]
pub struct Stopwatch(Watch);

#[derive(Debug, Clone)]
enum Watch {
    /// quanta's source, scaled here: quanta scales with the same multiply and shift, but out of
    /// line and behind a match on its source.
    Counter {
        counter: &'static quanta::Clock,
        start: u64,
        /// The nanoseconds in 2^32 of the source's ticks (exactly 2^32 when the source counts
        /// nanoseconds, on machines without a reliable counter).
        nanos_per_2_32_ticks: u64,
    },
    Through {
        clock: Arc<dyn Clock>,
        start: Mark,
    },
}

impl Stopwatch {
    /// A stopwatch started now on `clock`: its [`direct_stopwatch`](Clock::direct_stopwatch) if
    /// it has one, else one that reads it through [`Clock::nanos_since`].
    pub fn start(clock: Arc<dyn Clock>) -> Self {
        clock.direct_stopwatch().unwrap_or_else(|| {
            Self(Watch::Through {
                start: clock.mark(),
                clock,
            })
        })
    }

    /// The nanoseconds since [`start`](Self::start), saturating at `u64::MAX`.
    #[inline]
    pub fn nanos(&self) -> u64 {
        match &self.0 {
            Watch::Counter {
                counter,
                start,
                nanos_per_2_32_ticks,
            } => {
                let ticks = counter.raw().saturating_sub(*start);
                let nanos = (u128::from(ticks) * u128::from(*nanos_per_2_32_ticks)) >> 32;
                u64::try_from(nanos).unwrap_or(u64::MAX)
            }
            Watch::Through { clock, start } => clock.nanos_since(*start),
        }
    }
}

impl SystemClock {
    /// The wall-clock time read through the time-stamp counter: [`wall`](Clock::wall) at about
    /// half its cost (14 against 29 ns on our CI machine), for timestamps taken on a hot path (log
    /// records).
    ///
    /// It is the system's wall time at an anchor plus the counter's time since, and the anchor is
    /// taken again once it is a second old, or once the counter reads a millisecond or more before
    /// the anchor's reading (a counter reset, on resume or migration). So it is within the counter's
    /// rate error over one second of `wall()` (microseconds), and it follows a step of the system
    /// clock within a second. Like `wall()`, it is not monotonic.
    ///
    /// ```
    /// use std::time::Duration;
    /// use stanchion_core::{Clock, SystemClock};
    ///
    /// let (fast, wall) = (SystemClock::fast_wall(), SystemClock.wall());
    /// let gap = wall.duration_since(fast).unwrap_or_else(|e| e.duration());
    /// assert!(gap < Duration::from_secs(1));
    /// ```
    pub fn fast_wall() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_nanos(Self::fast_wall_nanos())
    }

    /// [`fast_wall`](Self::fast_wall) as nanoseconds since the Unix epoch, for a caller that
    /// stores time as a number: converting a `SystemTime` back costs as much as reading it.
    /// Zero before 1970; the nanoseconds of a `u64` run out in 2554, where it stops.
    pub fn fast_wall_nanos() -> u64 {
        // Loom cannot hold its atomics in a static; the models need no fast clock.
        #[cfg(stanchion_loom)]
        return unix_nanos(SystemTime::now());
        #[cfg(not(stanchion_loom))]
        read_anchored(&WALL_ANCHOR)
    }
}

/// `time` as nanoseconds since the Unix epoch: zero before 1970, and `u64::MAX` from 2554 on.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
///
/// assert_eq!(stanchion_core::unix_nanos(UNIX_EPOCH + Duration::from_micros(3)), 3_000);
/// assert_eq!(stanchion_core::unix_nanos(UNIX_EPOCH - Duration::from_secs(1)), 0);
/// ```
pub fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, saturating_nanos)
}

#[cfg(not(stanchion_loom))]
/// How often [`SystemClock::fast_wall`] re-reads the system's wall clock, in nanoseconds.
const ANCHOR_AGE_NANOS: u64 = 1_000_000_000;

#[cfg(not(stanchion_loom))]
/// How far the counter may read before the anchor's reading (the cores' counters differ by a
/// little) before the anchor is taken again, in nanoseconds.
const COUNTER_SKEW_NANOS: u64 = 1_000_000;

/// The wall-clock reading in nanoseconds and the counter's reading taken with it.
#[cfg(not(stanchion_loom))]
static WALL_ANCHOR: SeqPair = SeqPair::new();

#[cfg(not(stanchion_loom))]
/// The wall time through `anchor`: its wall reading plus the counter's time since.
fn read_anchored(anchor: &SeqPair) -> u64 {
    let Some((wall_nanos, raw)) = anchor.read() else {
        return take_anchor(anchor);
    };
    let now = counter().raw();
    // Zero when the counter reads before the anchor: a little on another core, a lot after a
    // reset, which must not freeze the clock at the anchor.
    let elapsed = counter().delta_as_nanos(raw, now);
    if elapsed >= ANCHOR_AGE_NANOS || counter().delta_as_nanos(now, raw) >= COUNTER_SKEW_NANOS {
        return take_anchor(anchor);
    }
    wall_nanos.saturating_add(elapsed)
}

#[cfg(not(stanchion_loom))]
/// Reads the system clock, and makes that the anchor unless another thread is already
/// re-anchoring.
#[cold]
fn take_anchor(anchor: &SeqPair) -> u64 {
    let seen = anchor.version();
    // The first use calibrates the counter, which takes milliseconds: not between the readings.
    let counter = counter();
    let nanos = unix_nanos(SystemTime::now());
    anchor.write_if(seen, nanos, counter.raw());
    nanos
}

/// quanta's clock: the time-stamp counter, calibrated against the monotonic clock once per
/// process (a few milliseconds, at the first mark), or that clock itself where the counter is
/// not reliable.
fn counter() -> &'static quanta::Clock {
    static COUNTER: OnceLock<quanta::Clock> = OnceLock::new();
    COUNTER.get_or_init(quanta::Clock::new)
}

/// A clock that moves only when told to, for tests.
///
/// Clones share one time line: advancing any clone advances them all, from any thread. The clock
/// starts at the instant it was created and never goes backwards. Its wall time starts at the
/// system's wall time at creation (or at [`ManualClock::with_wall`]) and advances in step.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use stanchion_core::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let seen_by_component = clock.clone();
/// let start = seen_by_component.now();
///
/// clock.advance(Duration::from_secs(60));
/// assert_eq!(seen_by_component.now() - start, Duration::from_secs(60));
/// assert_eq!(clock.elapsed(), Duration::from_secs(60));
/// ```
#[derive(Clone)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

struct ManualInner {
    origin: Instant,
    wall_origin: SystemTime,
    elapsed_nanos: AtomicU64,
}

impl ManualClock {
    /// A clock standing at the current instant, with the system's current wall time.
    pub fn new() -> Self {
        Self::with_wall(SystemTime::now())
    }

    /// A clock standing at the current instant whose wall time reads `wall`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use stanchion_core::{Clock, ManualClock};
    ///
    /// let clock = ManualClock::with_wall(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    /// clock.advance(Duration::from_secs(1));
    /// assert_eq!(clock.wall(), UNIX_EPOCH + Duration::from_secs(1_700_000_001));
    /// ```
    pub fn with_wall(wall: SystemTime) -> Self {
        Self {
            inner: Arc::new(ManualInner {
                origin: Instant::now(),
                wall_origin: wall,
                elapsed_nanos: AtomicU64::new(0),
            }),
        }
    }

    /// Moves time forward by `by`, for every clone of this clock.
    ///
    /// Time saturates at about 584 years past the clock's creation instead of wrapping.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // A closure that always returns Some cannot fail.
        let _ = self
            .inner
            .elapsed_nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                Some(now.saturating_add(by))
            });
    }

    /// How far this clock has been advanced since it was created.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.inner.elapsed_nanos.load(Ordering::Acquire))
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("elapsed", &self.elapsed())
            .finish_non_exhaustive()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.inner.origin + self.elapsed()
    }

    fn wall(&self) -> SystemTime {
        self.inner.wall_origin + self.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn fast_wall_takes_a_new_anchor_when_the_counter_reads_before_the_old_one() {
        // An anchor whose counter reading is far ahead, as after a counter reset.
        let anchor = SeqPair::new();
        assert!(anchor.write_if(0, 0, counter().raw() + (1 << 50)));
        let before = unix_nanos(SystemTime::now());
        assert!(read_anchored(&anchor) >= before, "frozen at the old anchor");
        assert_eq!(anchor.version(), 4, "anchored again");
        assert!(read_anchored(&anchor) >= before);
    }

    #[test]
    fn fast_wall_stays_with_the_system_wall_clock_across_anchors() {
        let slack = Duration::from_millis(1);
        for round in 0..3 {
            let before = SystemTime::now();
            let fast = SystemClock::fast_wall();
            let after = SystemTime::now();
            assert!(
                fast + slack >= before && fast <= after + slack,
                "round {round}: {fast:?} outside {before:?}..{after:?}"
            );
            if round == 1 {
                // The next reading takes a new anchor.
                thread::sleep(Duration::from_nanos(ANCHOR_AGE_NANOS) + Duration::from_millis(50));
            }
        }
    }

    #[test]
    fn system_marks_time_spans_like_instants_do() {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let (mark, instant) = (clock.mark(), Instant::now());
        thread::sleep(Duration::from_millis(20));
        let (span, elapsed) = (clock.span(mark, clock.mark()), instant.elapsed());
        assert!(span >= Duration::from_millis(19), "{span:?}");
        // Measured around the instant's, so at most the instant's plus the gap between readings.
        assert!(
            span <= elapsed + Duration::from_millis(5),
            "{span:?} vs {elapsed:?}"
        );
        assert_eq!(
            clock.span(clock.mark(), mark),
            Duration::ZERO,
            "backwards is zero"
        );
        let before = clock.span(mark, clock.mark());
        let since = Duration::from_nanos(clock.nanos_since(mark));
        assert!(
            since >= before && since <= before + Duration::from_millis(5),
            "{since:?} vs {before:?}"
        );
        assert!(
            clock.nanos_since(clock.mark()) < 1_000_000,
            "a fresh mark is about now"
        );
        assert_eq!(
            clock.nanos_since(ManualClock::new().mark()),
            0,
            "marks of different clocks do not compare"
        );
    }

    #[test]
    fn a_system_stopwatch_reads_the_counter_as_quanta_scales_it() {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let mark = clock.mark();
        let watch = Stopwatch::start(Arc::clone(&clock));
        assert!(matches!(watch.0, Watch::Counter { .. }), "{watch:?}");
        thread::sleep(Duration::from_millis(20));
        let direct = watch.nanos();
        let through = clock.nanos_since(mark);
        assert!(direct >= 20_000_000, "{direct}");
        // The mark was taken first and read last: it may be ahead by the gap between the readings
        // and the rounding of the scale (parts per billion of 20 ms).
        assert!(
            through >= direct && through - direct < 1_000_000,
            "{direct} vs {through}"
        );
    }

    #[test]
    fn other_clocks_stopwatches_read_through_the_trait() {
        let clock = ManualClock::new();
        let watch = Stopwatch::start(Arc::new(clock.clone()));
        assert!(matches!(watch.0, Watch::Through { .. }), "{watch:?}");
        assert_eq!(watch.nanos(), 0);
        clock.advance(Duration::from_secs(2));
        assert_eq!(watch.nanos(), 2_000_000_000);
    }

    #[test]
    fn manual_marks_move_only_when_advanced() {
        let clock = ManualClock::new();
        let mark = clock.mark();
        assert_eq!(clock.span(mark, clock.mark()), Duration::ZERO);
        clock.advance(Duration::from_millis(7));
        assert_eq!(clock.span(mark, clock.mark()), Duration::from_millis(7));
        assert_eq!(clock.nanos_since(mark), 7_000_000);
        assert_eq!(
            SystemClock.span(mark, SystemClock.mark()),
            Duration::ZERO,
            "marks of different clocks do not compare"
        );
    }

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new();
        let (now, wall) = (clock.now(), clock.wall());
        thread::yield_now();
        assert_eq!(clock.now(), now);
        assert_eq!(clock.wall(), wall);

        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now() - now, Duration::from_millis(1500));
        assert_eq!(
            clock.wall().duration_since(wall).unwrap(),
            Duration::from_millis(1500)
        );
    }

    #[test]
    fn clones_share_one_time_line_across_threads() {
        let clock = ManualClock::new();
        let start = clock.now();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let clock = clock.clone();
                thread::spawn(move || {
                    for _ in 0..1000 {
                        clock.advance(Duration::from_micros(1));
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        assert_eq!(clock.now() - start, Duration::from_millis(4));
    }

    #[test]
    fn advance_saturates_instead_of_wrapping() {
        let clock = ManualClock::new();
        clock.advance(Duration::MAX);
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.elapsed(), Duration::from_nanos(u64::MAX));
    }

    #[test]
    fn wrappers_delegate() {
        let clock = ManualClock::new();
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        let boxed: Box<dyn Clock> = Box::new(clock.clone());
        clock.advance(Duration::from_secs(2));
        assert_eq!(shared.now(), clock.now());
        assert_eq!(boxed.wall(), clock.wall());
        fn through<C: Clock>(clock: C) -> Instant {
            clock.now()
        }
        assert_eq!(through(&clock), clock.now());
    }

    #[test]
    fn system_clock_is_monotonic() {
        let a = SystemClock.now();
        let b = SystemClock.now();
        assert!(b >= a);
    }
}
