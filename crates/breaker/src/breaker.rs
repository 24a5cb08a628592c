use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use stanchion_core::{CachePadded, Clock, Counter, Mark, SystemClock};

use crate::events::{Listener, Listeners};
use crate::sync::{AtomicU32, AtomicU64, Mutex, MutexGuard, Ordering};
use crate::window::{CountWindow, Outcome, TimeWindow, Totals};
use crate::{
    BreakerConfig, BreakerEvent, CallError, Classifier, ConfigError, Metrics, Rejected,
    SlidingWindow, TransitionError, Verdict,
};

/// Where a breaker is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Calls pass and their outcomes are counted; the breaker opens when a rule trips.
    Closed,
    /// Calls are refused until the wait in open has passed.
    Open,
    /// A bounded number of trial calls pass; their outcomes decide between closed and open.
    HalfOpen,
    /// Calls pass; nothing is counted and the state never changes on its own.
    Disabled,
    /// Calls are refused until an operator changes the state.
    ForcedOpen,
    /// Calls pass and are counted, events are emitted, but the state never changes on its own.
    MetricsOnly,
}

impl State {
    /// In the order of their codes in the state word.
    const ALL: [State; 6] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::Disabled,
        State::ForcedOpen,
        State::MetricsOnly,
    ];

    fn code(self) -> u64 {
        Self::ALL
            .iter()
            .position(|&s| s == self)
            .expect("every state is listed") as u64
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half-open",
            State::Disabled => "disabled",
            State::ForcedOpen => "forced open",
            State::MetricsOnly => "metrics-only",
        })
    }
}

const CLOSED: u64 = 0;
const METRICS_ONLY: u64 = 5;

/// The state word: the state in the low 3 bits, and above them a generation that every transition
/// increments, so an outcome can tell whether the state it was admitted under still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Word(u64);

impl Word {
    #[inline]
    fn state(self) -> State {
        State::ALL[(self.0 & 7) as usize]
    }

    fn generation(self) -> u64 {
        self.0 >> 3
    }

    /// Closed or metrics-only: the states that admit and count every call.
    #[inline]
    fn is_counting(self) -> bool {
        let code = self.0 & 7;
        code == CLOSED || code == METRICS_ONLY
    }

    fn next(self, state: State) -> Word {
        Word(((self.generation() + 1) << 3) | state.code())
    }
}

/// A circuit breaker: refuses calls to a dependency that keeps failing, then lets a few trial calls
/// through to find out whether it has recovered.
///
/// Cloning is cheap and every clone is the same breaker. The closed path allocates nothing, and a
/// success into a window full of successes takes no lock; see the crate docs for the semantics,
/// which follow resilience4j's.
///
/// # Examples
///
/// ```
/// use stanchion_breaker::{CallError, CircuitBreaker, SlidingWindow, State};
///
/// let breaker = CircuitBreaker::builder()
///     .sliding_window(SlidingWindow::Count(4))
///     .minimum_calls(4)
///     .build()?;
/// for _ in 0..4 {
///     let _ = breaker.call(|| Err::<(), _>("connection refused"));
/// }
/// assert_eq!(breaker.state(), State::Open);
/// assert!(matches!(breaker.call(|| Ok::<_, ()>(1)), Err(CallError::Rejected(_))));
/// # Ok::<(), stanchion_breaker::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("state", &self.state())
            .field("config", &self.inner.config)
            .finish()
    }
}

/// Builds a [`CircuitBreaker`]; every setter names a field of [`BreakerConfig`].
#[derive(Debug, Clone)]
#[must_use]
pub struct BreakerBuilder {
    config: BreakerConfig,
    clock: Arc<dyn Clock>,
}

macro_rules! setters {
    ($($(#[$doc:meta])* $field:ident: $ty:ty),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $field(mut self, value: $ty) -> Self {
            self.config.$field = value;
            self
        }
    )*};
}

impl BreakerBuilder {
    setters! {
        /// Failure rate in percent, in (0, 100], at or above which the breaker opens.
        failure_rate_threshold: f32,
        /// Slow-call rate in percent, in (0, 100], at or above which the breaker opens.
        slow_call_rate_threshold: f32,
        /// A call that takes at least this long is slow.
        slow_call_duration: Duration,
        /// Whether calls are timed (needed for slow calls and for durations in events).
        record_slow_calls: bool,
        /// The window the rates are computed over while closed.
        sliding_window: SlidingWindow,
        /// Outcomes needed before the rates count.
        minimum_calls: u32,
        /// Trial calls admitted while half-open.
        permitted_calls_in_half_open: u32,
        /// The longest the breaker waits half-open for its trial calls.
        max_wait_in_half_open: Option<Duration>,
        /// How long the breaker stays open, growing on each re-opening.
        wait_in_open: crate::WaitInOpen,
        /// An optional consecutive-failures rule.
        consecutive_failures: Option<crate::ConsecutiveFailures>,
    }

    /// Starts from `config` (a preset, or one read from a file); later setters override it.
    pub fn config(mut self, config: BreakerConfig) -> Self {
        self.config = config;
        self
    }

    /// The clock windows, waits and call durations are measured with; [`SystemClock`] by default.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The clock, shared with other components.
    pub fn shared_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Validates the configuration and makes the breaker, closed.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the first field out of range.
    pub fn build(self) -> Result<CircuitBreaker, ConfigError> {
        self.config.validate()?;
        Ok(CircuitBreaker {
            inner: Arc::new(Inner::new(self.config, self.clock)),
        })
    }
}

/// The trial slots and outcomes of one half-open episode. Both words carry the episode's
/// generation (its low 32 and 16 bits) so that a caller from an earlier episode cannot take or fill
/// a slot of this one; callers also check the whole state word first, so only a caller stalled
/// across 2^16 transitions could meet a reused number, and then only in the outcome count.
#[derive(Debug)]
struct HalfOpen {
    /// generation (32 bits) | issued << 32
    issued: AtomicU64,
    /// generation (16 bits) | calls << 16 | failures << 32 | slow << 48; counts stay under 2^16
    /// because trial permits are at most `MAX_HALF_OPEN_CALLS`.
    outcomes: AtomicU64,
}

const SLOT_EPISODE: u64 = 0xffff_ffff;
const EPISODE: u64 = 0xffff;

impl HalfOpen {
    fn reset(&self, generation: u64) {
        self.issued
            .store(generation & SLOT_EPISODE, Ordering::Relaxed);
        self.outcomes.store(generation & EPISODE, Ordering::Relaxed);
    }

    fn outcome_totals(word: u64) -> Totals {
        Totals {
            calls: (word >> 16) as u16 as u32,
            failures: (word >> 32) as u16 as u32,
            slow: (word >> 48) as u16 as u32,
        }
    }
}

/// The current streaks of the consecutive rule, each with when it last grew.
#[derive(Debug)]
struct Streaks {
    failures: AtomicU32,
    last_failure: AtomicU64,
    slow: AtomicU32,
    last_slow: AtomicU64,
}

const NEVER: u64 = u64::MAX;

impl Streaks {
    fn reset(&self) {
        for (streak, last) in [
            (&self.failures, &self.last_failure),
            (&self.slow, &self.last_slow),
        ] {
            streak.store(0, Ordering::Relaxed);
            last.store(NEVER, Ordering::Relaxed);
        }
    }

    /// Extends the streak if `hit`, else breaks it; returns its length after a hit.
    fn step(
        streak: &AtomicU32,
        last: &AtomicU64,
        hit: bool,
        within: u64,
        now: impl FnOnce() -> u64,
    ) -> Option<u32> {
        if !hit {
            // Successes are the common case: write only when there is a streak to break.
            if streak.load(Ordering::Relaxed) != 0 {
                streak.store(0, Ordering::Relaxed);
            }
            return None;
        }
        let now = now();
        let before = last.swap(now, Ordering::Relaxed);
        if before == NEVER || now.saturating_sub(before) > within {
            streak.store(1, Ordering::Relaxed);
            Some(1)
        } else {
            Some(streak.fetch_add(1, Ordering::Relaxed) + 1)
        }
    }
}

// One per breaker; boxing the larger variant would add a pointer chase to every record.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    fn new(config: &BreakerConfig) -> Self {
        match config.sliding_window {
            SlidingWindow::Count(n) => Window::Count(CountWindow::new(n)),
            SlidingWindow::Time(d) => Window::Time(TimeWindow::new(d.as_secs())),
        }
    }
}

pub(crate) struct Inner {
    config: BreakerConfig,
    minimum_calls: u32,
    half_open_quota: u32,
    clock: Arc<dyn Clock>,
    origin: Instant,
    state: CachePadded<AtomicU64>,
    window: Window,
    half_open: HalfOpen,
    streaks: Streaks,
    /// When the wait in open ends, and when half-open began, in nanoseconds since `origin`.
    open_until: AtomicU64,
    half_open_since: AtomicU64,
    reopenings: AtomicU32,
    transitions: Mutex<()>,
    not_permitted: Counter,
    listeners: Listeners,
}

/// What a permit remembers from its admission.
#[derive(Debug)]
struct Ticket {
    word: Word,
    started: Option<Mark>,
    settled: bool,
}

impl Inner {
    fn new(config: BreakerConfig, clock: Arc<dyn Clock>) -> Self {
        let window = Window::new(&config);
        let origin = clock.now();
        Self {
            minimum_calls: config.effective_minimum_calls(),
            half_open_quota: config.half_open_quota(),
            config,
            origin,
            clock,
            state: CachePadded(AtomicU64::new(State::Closed.code())),
            window,
            half_open: HalfOpen {
                issued: AtomicU64::new(0),
                outcomes: AtomicU64::new(0),
            },
            streaks: Streaks {
                failures: AtomicU32::new(0),
                last_failure: AtomicU64::new(NEVER),
                slow: AtomicU32::new(0),
                last_slow: AtomicU64::new(NEVER),
            },
            open_until: AtomicU64::new(0),
            half_open_since: AtomicU64::new(0),
            reopenings: AtomicU32::new(0),
            transitions: Mutex::new(()),
            not_permitted: Counter::new(),
            listeners: Listeners::new(),
        }
    }

    #[inline]
    fn word(&self) -> Word {
        Word(self.state.0.load(Ordering::Acquire))
    }

    /// Nanoseconds on this breaker's time line.
    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }

    fn now(&self) -> u64 {
        self.nanos(self.clock.now())
    }

    #[inline]
    fn ticket(&self, word: Word) -> Ticket {
        let started = self.config.record_slow_calls.then(|| self.clock.mark());
        Ticket {
            word,
            started,
            settled: false,
        }
    }

    #[inline]
    fn reject(&self, state: State, retry_after: Option<Duration>) -> Rejected {
        self.not_permitted.increment();
        self.listeners.emit(|| BreakerEvent::NotPermitted { state });
        Rejected::new(state, retry_after)
    }

    #[inline]
    fn acquire(&self) -> Result<Ticket, Rejected> {
        let word = self.word();
        if word.is_counting() {
            Ok(self.ticket(word))
        } else {
            self.acquire_slow()
        }
    }

    /// Every state but the counting ones. Out of line to keep the closed path small, but not cold:
    /// while open, rejecting is the hot path.
    #[inline(never)]
    fn acquire_slow(&self) -> Result<Ticket, Rejected> {
        loop {
            let word = self.word();
            match word.state() {
                State::Closed | State::MetricsOnly => return Ok(self.ticket(word)),
                State::Disabled => {
                    return Ok(Ticket {
                        word,
                        started: None,
                        settled: false,
                    });
                }
                State::ForcedOpen => return Err(self.reject(State::ForcedOpen, None)),
                State::Open => {
                    let now = self.now();
                    let until = self.open_until.load(Ordering::Acquire);
                    if now < until {
                        return Err(
                            self.reject(State::Open, Some(Duration::from_nanos(until - now)))
                        );
                    }
                    // The wait is over: the first caller to see it moves the breaker to half-open.
                    self.advance(word, State::HalfOpen);
                }
                State::HalfOpen => {
                    if let Some(ticket) = self.acquire_trial(word)? {
                        return Ok(ticket);
                    }
                }
            }
        }
    }

    /// Takes a trial slot of the half-open episode `word` began; `None` if the episode ended.
    fn acquire_trial(&self, word: Word) -> Result<Option<Ticket>, Rejected> {
        let episode = word.generation() & SLOT_EPISODE;
        let mut current = self.half_open.issued.load(Ordering::Acquire);
        loop {
            if current & SLOT_EPISODE != episode || self.word() != word {
                return Ok(None);
            }
            if (current >> 32) as u32 >= self.config.permitted_calls_in_half_open {
                if let Some(max) = self.config.max_wait_in_half_open {
                    let since = self.half_open_since.load(Ordering::Acquire);
                    if self.now().saturating_sub(since) >= self.nanos_of(max) {
                        self.advance(word, State::Open);
                        return Ok(None);
                    }
                }
                return Err(self.reject(State::HalfOpen, None));
            }
            match self.half_open.issued.compare_exchange_weak(
                current,
                current + (1 << 32),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(Some(self.ticket(word))),
                Err(actual) => current = actual,
            }
        }
    }

    fn nanos_of(&self, duration: Duration) -> u64 {
        u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
    }

    /// Gives a trial slot back without an outcome, if its episode is still running.
    fn release_trial(&self, word: Word) {
        if self.word() != word {
            return;
        }
        let episode = word.generation() & SLOT_EPISODE;
        let _ =
            self.half_open
                .issued
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
                    (current & SLOT_EPISODE == episode && current >> 32 > 0)
                        .then(|| current - (1 << 32))
                });
    }

    #[inline]
    fn settle(&self, ticket: &mut Ticket, verdict: Verdict) {
        let state = ticket.word.state();
        if state == State::Disabled {
            ticket.settled = true;
            return;
        }
        if verdict == Verdict::Ignore {
            ticket.settled = true;
            if state == State::HalfOpen {
                self.release_trial(ticket.word);
            }
            self.listeners.emit(|| BreakerEvent::Ignored);
            return;
        }
        let duration = ticket
            .started
            .map(|start| self.clock.span(start, self.clock.mark()));
        let outcome = Outcome {
            failed: verdict == Verdict::Failure,
            slow: duration.is_some_and(|d| d >= self.config.slow_call_duration),
        };
        self.listeners.emit(|| match outcome.failed {
            true => BreakerEvent::Failure { duration },
            false => BreakerEvent::Success { duration },
        });
        // Settled only now: if a listener panicked above, dropping the permit frees its trial slot.
        ticket.settled = true;
        // An outcome of a call admitted under an earlier state counts for nothing now.
        if self.word() != ticket.word {
            return;
        }
        match state {
            State::Closed | State::MetricsOnly => self.record_closed(ticket.word, outcome),
            State::HalfOpen => self.record_trial(ticket.word, outcome),
            State::Open | State::ForcedOpen | State::Disabled => {}
        }
    }

    #[inline]
    fn record_closed(&self, word: Word, outcome: Outcome) {
        let now = || self.now();
        let totals = match &self.window {
            Window::Count(window) => window.record(outcome),
            Window::Time(window) => window.record(outcome, now() / 1_000_000_000),
        };
        let mut trip = false;
        if let Some(rule) = &self.config.consecutive_failures {
            let within = self.nanos_of(rule.within);
            let s = &self.streaks;
            if let Some(count) =
                Streaks::step(&s.failures, &s.last_failure, outcome.failed, within, now)
                && count >= rule.failures
            {
                self.listeners
                    .emit(|| BreakerEvent::ConsecutiveFailuresExceeded { count });
                trip = true;
            }
            if let Some(limit) = rule.slow_calls
                && let Some(count) = Streaks::step(&s.slow, &s.last_slow, outcome.slow, within, now)
                && count >= limit
            {
                self.listeners
                    .emit(|| BreakerEvent::ConsecutiveSlowCallsExceeded { count });
                trip = true;
            }
        }
        if let Some((failure_rate, slow_rate)) = totals.and_then(|t| t.rates(self.minimum_calls)) {
            trip |= self.exceeded(failure_rate, slow_rate);
        }
        if trip && word.state() == State::Closed {
            self.advance(word, State::Open);
        }
    }

    /// Whether either rate reached its threshold, emitting the matching events.
    fn exceeded(&self, failure_rate: f32, slow_rate: f32) -> bool {
        let failures = failure_rate >= self.config.failure_rate_threshold;
        let slow = slow_rate >= self.config.slow_call_rate_threshold;
        if failures {
            self.listeners
                .emit(|| BreakerEvent::FailureRateExceeded { rate: failure_rate });
        }
        if slow {
            self.listeners
                .emit(|| BreakerEvent::SlowCallRateExceeded { rate: slow_rate });
        }
        failures || slow
    }

    #[cold]
    #[inline(never)]
    fn record_trial(&self, word: Word, outcome: Outcome) {
        let episode = word.generation() & EPISODE;
        let add = (1 << 16) | (u64::from(outcome.failed) << 32) | (u64::from(outcome.slow) << 48);
        let Ok(before) =
            self.half_open
                .outcomes
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
                    (current & EPISODE == episode).then(|| current + add)
                })
        else {
            return;
        };
        let totals = HalfOpen::outcome_totals(before + add);
        // Exactly one outcome completes the quota, and that caller decides.
        if totals.calls == self.half_open_quota {
            let (failure_rate, slow_rate) =
                totals.rates(1).expect("the quota is at least one call");
            let to = if self.exceeded(failure_rate, slow_rate) {
                State::Open
            } else {
                State::Closed
            };
            self.advance(word, to);
        }
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.transitions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Moves to `to` if the state word is still `expected` (or unconditionally for `None`, an
    /// operator's request), after preparing the new state's data; returns whether it moved.
    /// Every move starts a new generation, even to the same state.
    #[cold]
    #[inline(never)]
    fn transition(&self, expected: Option<Word>, to: State) -> Result<bool, TransitionError> {
        let guard = self.lock();
        let current = self.word();
        if expected.is_some_and(|expected| expected != current) {
            return Ok(false);
        }
        let from = current.state();
        if expected.is_none() && from == State::Closed && to == State::HalfOpen {
            return Err(TransitionError { from, to });
        }
        let next = current.next(to);
        let now = self.now();
        match to {
            State::Closed | State::MetricsOnly | State::Disabled => {
                self.reset_windows();
                self.reopenings.store(0, Ordering::Relaxed);
            }
            State::Open => {
                let reopenings = if from == State::HalfOpen {
                    self.reopenings.fetch_add(1, Ordering::Relaxed) + 1
                } else {
                    self.reopenings.store(0, Ordering::Relaxed);
                    0
                };
                let wait = self.nanos_of(self.config.wait_in_open.wait(reopenings));
                self.open_until
                    .store(now.saturating_add(wait), Ordering::Release);
            }
            State::HalfOpen => {
                self.half_open.reset(next.generation());
                self.half_open_since.store(now, Ordering::Release);
            }
            State::ForcedOpen => {}
        }
        self.state.0.store(next.0, Ordering::Release);
        drop(guard);
        if from != to {
            self.listeners
                .emit(|| BreakerEvent::StateTransition { from, to });
        }
        Ok(true)
    }

    /// An automatic transition, which the rules only ask for where it is allowed.
    fn advance(&self, expected: Word, to: State) {
        let moved = self.transition(Some(expected), to);
        debug_assert!(moved.is_ok(), "automatic transitions are always allowed");
    }

    fn reset_windows(&self) {
        match &self.window {
            Window::Count(window) => window.reset(),
            Window::Time(window) => window.reset(),
        }
        self.streaks.reset();
    }
}

impl CircuitBreaker {
    /// A builder starting from the defaults (resilience4j's).
    pub fn builder() -> BreakerBuilder {
        BreakerBuilder {
            config: BreakerConfig::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// A breaker with `config` on the system clock.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the first field out of range.
    pub fn new(config: BreakerConfig) -> Result<Self, ConfigError> {
        Self::builder().config(config).build()
    }

    /// Asks to make a call. On success, run the call and report its outcome on the permit; a permit
    /// dropped without an outcome records nothing and frees its trial slot.
    ///
    /// While open, the first request after the wait moves the breaker to half-open.
    ///
    /// # Errors
    ///
    /// [`Rejected`] when the breaker is open, forced open, or half-open with every trial slot taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use stanchion_breaker::CircuitBreaker;
    ///
    /// let breaker = CircuitBreaker::builder().build().unwrap();
    /// match breaker.try_acquire() {
    ///     Ok(permit) => permit.success(),
    ///     Err(rejected) => eprintln!("skipped: {rejected}"),
    /// }
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        self.inner.acquire().map(|ticket| Permit {
            inner: &self.inner,
            ticket,
        })
    }

    /// As [`try_acquire`](Self::try_acquire), with a permit that owns a handle to the breaker, for
    /// futures and tasks that must be `'static`.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    pub fn try_acquire_owned(&self) -> Result<OwnedPermit, Rejected> {
        self.inner.acquire().map(|ticket| OwnedPermit {
            inner: Arc::clone(&self.inner),
            ticket,
        })
    }

    /// Runs `operation` if the breaker permits it, counting every `Err` as a failure.
    ///
    /// # Errors
    ///
    /// [`CallError::Rejected`] without running the operation, or [`CallError::Inner`] with its error.
    pub fn call<T, E>(&self, operation: impl FnOnce() -> Result<T, E>) -> Result<T, CallError<E>> {
        self.call_with(&Classifier::default(), operation)
    }

    /// Runs `operation` if permitted, letting `classifier` decide which errors are failures and
    /// which are ignored.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub fn call_with<T, E>(
        &self,
        classifier: &Classifier<E>,
        operation: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, CallError<E>> {
        let permit = self.try_acquire().map_err(CallError::Rejected)?;
        let result = operation();
        permit.settle(
            result
                .as_ref()
                .err()
                .map_or(Verdict::Success, |error| classifier.classify(error)),
        );
        result.map_err(CallError::Inner)
    }

    /// Awaits `operation` if the breaker permits it. A future dropped before it finishes records
    /// nothing and frees its trial slot.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn call_async<T, E>(
        &self,
        operation: impl Future<Output = Result<T, E>>,
    ) -> Result<T, CallError<E>> {
        self.call_async_with(&Classifier::default(), operation)
            .await
    }

    /// As [`call_async`](Self::call_async), with a classifier.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn call_async_with<T, E>(
        &self,
        classifier: &Classifier<E>,
        operation: impl Future<Output = Result<T, E>>,
    ) -> Result<T, CallError<E>> {
        let permit = self.try_acquire().map_err(CallError::Rejected)?;
        let result = operation.await;
        permit.settle(
            result
                .as_ref()
                .err()
                .map_or(Verdict::Success, |error| classifier.classify(error)),
        );
        result.map_err(CallError::Inner)
    }

    /// The current state. An open breaker whose wait is over still reports `Open` until the next
    /// request moves it.
    pub fn state(&self) -> State {
        self.inner.word().state()
    }

    /// The configuration the breaker runs with.
    pub fn config(&self) -> &BreakerConfig {
        &self.inner.config
    }

    /// A snapshot of the rates and counts behind the current state.
    pub fn metrics(&self) -> Metrics {
        let inner = &self.inner;
        let state = self.state();
        let (totals, minimum) = if state == State::HalfOpen {
            (
                HalfOpen::outcome_totals(inner.half_open.outcomes.load(Ordering::Acquire)),
                inner.half_open_quota,
            )
        } else {
            let totals = match &inner.window {
                Window::Count(window) => window.totals(),
                Window::Time(window) => window.totals(inner.now() / 1_000_000_000),
            };
            (totals, inner.minimum_calls)
        };
        let rates = totals.rates(minimum);
        Metrics {
            state,
            failure_rate: rates.map(|r| r.0),
            slow_call_rate: rates.map(|r| r.1),
            buffered_calls: totals.calls,
            failed_calls: totals.failures,
            slow_calls: totals.slow,
            not_permitted_calls: inner.not_permitted.get(),
        }
    }

    /// Calls `listener` with every event from now on. Costs nothing while there are no listeners.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use stanchion_breaker::{BreakerEvent, CircuitBreaker, State};
    ///
    /// let breaker = CircuitBreaker::builder().build().unwrap();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&seen);
    /// breaker.on_event(move |event| log.lock().unwrap().push(*event));
    /// breaker.transition_to_forced_open().unwrap();
    /// assert_eq!(
    ///     seen.lock().unwrap()[0],
    ///     BreakerEvent::StateTransition { from: State::Closed, to: State::ForcedOpen }
    /// );
    /// ```
    pub fn on_event(&self, listener: impl Fn(&BreakerEvent) + Send + Sync + 'static) {
        self.inner.listeners.add(Arc::new(listener) as Listener);
    }

    /// Removes every listener.
    pub fn clear_listeners(&self) {
        self.inner.listeners.clear();
    }

    fn operator_transition(&self, to: State) -> Result<(), TransitionError> {
        self.inner.transition(None, to).map(drop)
    }

    /// Closes the breaker with empty windows, whatever state it is in (closed included).
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for refusals.
    pub fn transition_to_closed(&self) -> Result<(), TransitionError> {
        self.operator_transition(State::Closed)
    }

    /// Opens the breaker for the first wait in open.
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for refusals.
    pub fn transition_to_open(&self) -> Result<(), TransitionError> {
        self.operator_transition(State::Open)
    }

    /// Starts a half-open episode.
    ///
    /// # Errors
    ///
    /// [`TransitionError`] from closed: a closed breaker has nothing to try.
    pub fn transition_to_half_open(&self) -> Result<(), TransitionError> {
        self.operator_transition(State::HalfOpen)
    }

    /// Lets every call through and counts nothing until another transition.
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for refusals.
    pub fn transition_to_disabled(&self) -> Result<(), TransitionError> {
        self.operator_transition(State::Disabled)
    }

    /// Refuses every call until another transition.
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for refusals.
    pub fn transition_to_forced_open(&self) -> Result<(), TransitionError> {
        self.operator_transition(State::ForcedOpen)
    }

    /// Lets every call through, counts and reports, never changes state on its own.
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for refusals.
    pub fn transition_to_metrics_only(&self) -> Result<(), TransitionError> {
        self.operator_transition(State::MetricsOnly)
    }

    /// Closes the breaker with empty windows and a zero not-permitted count, as if new. Outcomes of
    /// calls admitted before the reset count for nothing.
    pub fn reset(&self) {
        let inner = &self.inner;
        inner
            .transition(None, State::Closed)
            .expect("closing is always allowed");
        inner.not_permitted.reset();
        inner.listeners.emit(|| BreakerEvent::Reset);
    }
}

/// Permission to make one call, from [`CircuitBreaker::try_acquire`]. Report the call's outcome
/// with [`success`](Self::success), [`failure`](Self::failure) or [`ignore`](Self::ignore); dropping
/// the permit instead records nothing and gives back its half-open trial slot.
#[must_use = "report the call's outcome, or drop the permit to record nothing"]
#[derive(Debug)]
pub struct Permit<'a> {
    inner: &'a Inner,
    ticket: Ticket,
}

/// A [`Permit`] that owns a handle to its breaker, from [`CircuitBreaker::try_acquire_owned`].
#[must_use = "report the call's outcome, or drop the permit to record nothing"]
#[derive(Debug)]
pub struct OwnedPermit {
    inner: Arc<Inner>,
    ticket: Ticket,
}

macro_rules! permit_methods {
    ($permit:ty) => {
        impl $permit {
            /// The call succeeded.
            #[inline]
            pub fn success(self) {
                self.settle(Verdict::Success);
            }

            /// The call failed.
            #[inline]
            pub fn failure(self) {
                self.settle(Verdict::Failure);
            }

            /// The call ended in a way that should count for nothing.
            pub fn ignore(self) {
                self.settle(Verdict::Ignore);
            }

            /// Reports `verdict`.
            #[inline]
            pub fn settle(mut self, verdict: Verdict) {
                self.inner.settle(&mut self.ticket, verdict);
            }

            /// The state the call was admitted under.
            pub fn state(&self) -> State {
                self.ticket.word.state()
            }
        }

        impl Drop for $permit {
            #[inline]
            fn drop(&mut self) {
                if !self.ticket.settled && self.ticket.word.state() == State::HalfOpen {
                    self.inner.release_trial(self.ticket.word);
                }
            }
        }
    };
}

permit_methods!(Permit<'_>);
permit_methods!(OwnedPermit);

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inner")
            .field("state", &self.word().state())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(stanchion_loom)))]
mod tests {
    use super::*;

    #[test]
    fn state_codes_round_trip_and_counting_states_are_named_by_code() {
        for state in State::ALL {
            let word = Word(0).next(state);
            assert_eq!(word.state(), state);
            assert_eq!(
                word.is_counting(),
                matches!(state, State::Closed | State::MetricsOnly),
                "{state}"
            );
        }
        assert_eq!(
            (State::Closed.code(), State::MetricsOnly.code()),
            (CLOSED, METRICS_ONLY)
        );
    }
}
