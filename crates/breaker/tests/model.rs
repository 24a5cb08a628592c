//! The breaker against a plain-Rust reference state machine, over random configurations and
//! random sequences of calls, cancellations and passing time.

use std::collections::VecDeque;
use std::time::Duration;

use proptest::prelude::*;
use stanchion_breaker::*;
use stanchion_core::ManualClock;

const SLOW: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
enum Op {
    /// Acquire; if admitted, take `millis` and report `verdict`.
    Call { verdict: Verdict, millis: u64 },
    /// Acquire and drop the permit without an outcome.
    Cancel,
    /// Let time pass.
    Advance { millis: u64 },
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let verdict = prop_oneof![3 => Just(Verdict::Success), 3 => Just(Verdict::Failure), 1 => Just(Verdict::Ignore)];
    let op = prop_oneof![
        8 => (verdict, prop_oneof![0u64..50, 100u64..200]).prop_map(|(verdict, millis)| Op::Call { verdict, millis }),
        1 => Just(Op::Cancel),
        3 => prop_oneof![0u64..2_000, 5_000u64..25_000].prop_map(|millis| Op::Advance { millis }),
    ];
    proptest::collection::vec(op, 1..80)
}

fn configs() -> impl Strategy<Value = BreakerConfig> {
    (
        prop_oneof![
            (1u32..8).prop_map(SlidingWindow::Count),
            (1u64..5).prop_map(|s| SlidingWindow::Time(Duration::from_secs(s)))
        ],
        1u32..10,
        1u32..4,
        prop::sample::select(vec![25.0f32, 50.0, 75.0, 100.0]),
        prop::sample::select(vec![50.0f32, 100.0]),
        any::<bool>(),
        prop::option::of(Just(Duration::from_secs(15))),
        prop::option::of((1u32..4).prop_map(|failures| ConsecutiveFailures {
            failures,
            slow_calls: None,
            within: Duration::from_secs(5),
        })),
    )
        .prop_map(
            |(
                sliding_window,
                minimum_calls,
                permitted,
                failure,
                slow,
                exponential,
                max_wait,
                consecutive,
            )| BreakerConfig {
                failure_rate_threshold: failure,
                slow_call_rate_threshold: slow,
                slow_call_duration: SLOW,
                sliding_window,
                minimum_calls,
                permitted_calls_in_half_open: permitted,
                max_wait_in_half_open: max_wait,
                wait_in_open: if exponential {
                    WaitInOpen::exponential(Duration::from_secs(10), 2.0, Duration::from_secs(40))
                } else {
                    WaitInOpen::fixed(Duration::from_secs(10))
                },
                consecutive_failures: consecutive,
                ..BreakerConfig::default()
            },
        )
}

/// (failed, slow, at millisecond)
type Record = (bool, bool, u64);

#[derive(Debug)]
enum ModelState {
    Closed,
    Open {
        until: u64,
    },
    HalfOpen {
        since: u64,
        issued: u32,
        outcomes: Vec<Record>,
    },
}

/// The rules, written as plainly as possible.
struct Model {
    config: BreakerConfig,
    state: ModelState,
    window: VecDeque<Record>,
    streak: u32,
    last_failure: Option<u64>,
    reopenings: u32,
}

impl Model {
    fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: ModelState::Closed,
            window: VecDeque::new(),
            streak: 0,
            last_failure: None,
            reopenings: 0,
        }
    }

    /// The closed window's records as of `now` (a time window drops whole seconds that passed).
    fn live(&self, now: u64) -> Vec<Record> {
        match self.config.sliding_window {
            SlidingWindow::Count(_) => self.window.iter().copied().collect(),
            SlidingWindow::Time(d) => {
                let (now_s, size) = (now / 1000, d.as_secs());
                self.window
                    .iter()
                    .copied()
                    .filter(|r| r.2 / 1000 + size > now_s)
                    .collect()
            }
        }
    }

    fn rates(records: &[Record], minimum: u32) -> Option<(f32, f32)> {
        let calls = records.len() as u32;
        (calls >= minimum && calls > 0).then(|| {
            let count = |f: fn(&Record) -> bool| {
                records.iter().filter(|r| f(r)).count() as f32 * 100.0 / calls as f32
            };
            (count(|r| r.0), count(|r| r.1))
        })
    }

    fn minimum(&self) -> u32 {
        match self.config.sliding_window {
            SlidingWindow::Count(n) => self.config.minimum_calls.min(n),
            SlidingWindow::Time(_) => self.config.minimum_calls,
        }
    }

    fn open(&mut self, now: u64, reopening: bool) {
        self.reopenings = if reopening { self.reopenings + 1 } else { 0 };
        let wait = self.config.wait_in_open.wait(self.reopenings).as_millis() as u64;
        self.state = ModelState::Open { until: now + wait };
    }

    fn close(&mut self) {
        self.state = ModelState::Closed;
        self.window.clear();
        self.streak = 0;
        self.last_failure = None;
        self.reopenings = 0;
    }

    /// Ok(state admitted under) or Err((state, retry after in ms)).
    fn acquire(&mut self, now: u64) -> Result<State, (State, Option<u64>)> {
        loop {
            match &mut self.state {
                ModelState::Closed => return Ok(State::Closed),
                ModelState::Open { until } if now < *until => {
                    return Err((State::Open, Some(*until - now)));
                }
                ModelState::Open { .. } => {
                    self.state = ModelState::HalfOpen {
                        since: now,
                        issued: 0,
                        outcomes: Vec::new(),
                    }
                }
                ModelState::HalfOpen { since, issued, .. } => {
                    if *issued < self.config.permitted_calls_in_half_open {
                        *issued += 1;
                        return Ok(State::HalfOpen);
                    }
                    match self.config.max_wait_in_half_open {
                        Some(max) if now - *since >= max.as_millis() as u64 => self.open(now, true),
                        _ => return Err((State::HalfOpen, None)),
                    }
                }
            }
        }
    }

    fn release(&mut self) {
        if let ModelState::HalfOpen { issued, .. } = &mut self.state {
            *issued -= 1;
        }
    }

    fn record(&mut self, admitted: State, failed: bool, slow: bool, now: u64) {
        let record = (failed, slow, now);
        match admitted {
            State::Closed => {
                self.window.push_back(record);
                if let SlidingWindow::Count(n) = self.config.sliding_window
                    && self.window.len() > n as usize
                {
                    self.window.pop_front();
                }
                let mut trip = false;
                if let Some(rule) = self.config.consecutive_failures {
                    if failed {
                        let within = rule.within.as_millis() as u64;
                        self.streak = match self.last_failure {
                            Some(last) if now - last <= within => self.streak + 1,
                            _ => 1,
                        };
                        self.last_failure = Some(now);
                        trip |= self.streak >= rule.failures;
                    } else {
                        self.streak = 0;
                    }
                }
                let live = self.live(now);
                if let Some((f, s)) = Self::rates(&live, self.minimum()) {
                    trip |= f >= self.config.failure_rate_threshold
                        || s >= self.config.slow_call_rate_threshold;
                }
                if trip {
                    self.open(now, false);
                }
            }
            State::HalfOpen => {
                let ModelState::HalfOpen { outcomes, .. } = &mut self.state else {
                    unreachable!()
                };
                outcomes.push(record);
                let quota = self
                    .config
                    .minimum_calls
                    .min(self.config.permitted_calls_in_half_open);
                if outcomes.len() as u32 == quota {
                    let (f, s) = Self::rates(outcomes, 1).unwrap();
                    if f >= self.config.failure_rate_threshold
                        || s >= self.config.slow_call_rate_threshold
                    {
                        self.open(now, true);
                    } else {
                        self.close();
                    }
                }
            }
            _ => unreachable!("only closed and half-open admit calls"),
        }
    }

    fn state(&self) -> State {
        match self.state {
            ModelState::Closed => State::Closed,
            ModelState::Open { .. } => State::Open,
            ModelState::HalfOpen { .. } => State::HalfOpen,
        }
    }

    /// (calls, failures, slow) as `metrics()` reports them.
    fn counts(&self, now: u64) -> (u32, u32, u32) {
        let records = match &self.state {
            ModelState::HalfOpen { outcomes, .. } => outcomes.clone(),
            _ => self.live(now),
        };
        let count = |f: fn(&Record) -> bool| records.iter().filter(|r| f(r)).count() as u32;
        (records.len() as u32, count(|r| r.0), count(|r| r.1))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn breaker_matches_the_reference_model(config in configs(), ops in ops()) {
        let clock = ManualClock::new();
        let breaker = CircuitBreaker::builder().config(config.clone()).clock(clock.clone()).build().unwrap();
        let mut model = Model::new(config);
        let mut now = 0u64;
        for (step, op) in ops.iter().enumerate() {
            match *op {
                Op::Advance { millis } => {
                    clock.advance(Duration::from_millis(millis));
                    now += millis;
                }
                Op::Cancel => {
                    let expected = model.acquire(now);
                    let got = breaker.try_acquire().map(|p| p.state()).map_err(|r| (r.state(), r.retry_after().map(|d| d.as_millis() as u64)));
                    prop_assert_eq!(&got, &expected, "step {}: {:?}", step, op);
                    if expected.is_ok() {
                        model.release();
                    }
                }
                Op::Call { verdict, millis } => {
                    let expected = model.acquire(now);
                    let permit = breaker.try_acquire();
                    let got = permit.as_ref().map(|p| p.state()).map_err(|r| (r.state(), r.retry_after().map(|d| d.as_millis() as u64)));
                    prop_assert_eq!(&got, &expected, "step {}: {:?}", step, op);
                    if let (Ok(permit), Ok(admitted)) = (permit, expected) {
                        clock.advance(Duration::from_millis(millis));
                        now += millis;
                        permit.settle(verdict);
                        match verdict {
                            Verdict::Ignore => model.release(),
                            _ => model.record(admitted, verdict == Verdict::Failure, Duration::from_millis(millis) >= SLOW, now),
                        }
                    }
                }
            }
            prop_assert_eq!(breaker.state(), model.state(), "step {}: {:?}", step, op);
            let metrics = breaker.metrics();
            prop_assert_eq!((metrics.buffered_calls, metrics.failed_calls, metrics.slow_calls), model.counts(now), "step {}: {:?}", step, op);
        }
    }
}
