//! resilience4j's behaviours, one test each, on a manual clock.

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use stanchion_breaker::*;
use stanchion_core::{Clock, ManualClock};

fn breaker(
    clock: &ManualClock,
    configure: impl FnOnce(BreakerBuilder) -> BreakerBuilder,
) -> CircuitBreaker {
    configure(CircuitBreaker::builder().clock(clock.clone()))
        .build()
        .unwrap()
}

/// Counts a window of `n` with `min` calls needed; failures at 50%.
fn counting(clock: &ManualClock, n: u32, min: u32) -> CircuitBreaker {
    breaker(clock, |b| {
        b.sliding_window(SlidingWindow::Count(n))
            .minimum_calls(min)
            .permitted_calls_in_half_open(2)
    })
}

/// A refusal as (state, retry after).
fn parts(rejected: Rejected) -> (State, Option<Duration>) {
    (rejected.state(), rejected.retry_after())
}

fn fail(breaker: &CircuitBreaker) {
    breaker.try_acquire().expect("permitted").failure();
}

fn succeed(breaker: &CircuitBreaker) {
    breaker.try_acquire().expect("permitted").success();
}

fn events(breaker: &CircuitBreaker) -> Arc<Mutex<Vec<BreakerEvent>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    breaker.on_event(move |event| log.lock().unwrap().push(*event));
    seen
}

#[test]
fn opens_when_the_failure_rate_reaches_the_threshold_after_the_minimum() {
    let clock = ManualClock::new();
    let breaker = counting(&clock, 10, 4);
    fail(&breaker);
    fail(&breaker);
    succeed(&breaker);
    assert_eq!(breaker.state(), State::Closed, "3 calls: below the minimum");
    assert_eq!(breaker.metrics().failure_rate, None);
    // The fourth outcome is a success, yet it completes the minimum at 50% failures: open.
    succeed(&breaker);
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(breaker.metrics().failure_rate, Some(50.0));
}

#[test]
fn stays_closed_below_the_threshold_and_forgets_old_outcomes() {
    let clock = ManualClock::new();
    let breaker = counting(&clock, 4, 4);
    fail(&breaker);
    for _ in 0..3 {
        succeed(&breaker);
    }
    assert_eq!(breaker.state(), State::Closed, "25% is under 50%");
    // Four more successes push the failure out of the window.
    for _ in 0..4 {
        succeed(&breaker);
    }
    let metrics = breaker.metrics();
    assert_eq!(
        (
            metrics.buffered_calls,
            metrics.failed_calls,
            metrics.failure_rate
        ),
        (4, 0, Some(0.0))
    );
}

#[test]
fn time_window_forgets_failures_older_than_the_window() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, |b| {
        b.sliding_window(SlidingWindow::Time(Duration::from_secs(10)))
            .minimum_calls(4)
    });
    fail(&breaker);
    fail(&breaker);
    clock.advance(Duration::from_secs(11));
    succeed(&breaker);
    succeed(&breaker);
    fail(&breaker);
    assert_eq!(breaker.metrics().buffered_calls, 3);
    assert_eq!(breaker.state(), State::Closed);
    succeed(&breaker);
    assert_eq!(breaker.state(), State::Closed, "1 failure in 4 is 25%");
}

#[test]
fn slow_calls_open_the_breaker() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, |b| {
        b.sliding_window(SlidingWindow::Count(4))
            .minimum_calls(2)
            .slow_call_duration(Duration::from_millis(100))
            .slow_call_rate_threshold(100.0)
    });
    let permit = breaker.try_acquire().unwrap();
    clock.advance(Duration::from_millis(150));
    permit.success();
    assert_eq!(breaker.state(), State::Closed);
    let permit = breaker.try_acquire().unwrap();
    clock.advance(Duration::from_millis(100));
    permit.success();
    assert_eq!(breaker.state(), State::Open, "every call slow: 100%");
    assert_eq!(breaker.metrics().slow_calls, 2);
}

#[test]
fn open_rejects_with_a_retry_hint_then_lets_trials_through_after_the_wait() {
    let clock = ManualClock::new();
    let breaker = counting(&clock, 2, 2);
    fail(&breaker);
    fail(&breaker);
    let rejected = breaker.try_acquire().unwrap_err();
    assert_eq!(
        parts(rejected),
        (State::Open, Some(Duration::from_secs(60)))
    );
    assert_eq!(
        rejected.to_string(),
        "circuit breaker is open and refused the call; retry after 60s"
    );
    clock.advance(Duration::from_secs(59));
    assert_eq!(
        breaker.try_acquire().unwrap_err().retry_after(),
        Some(Duration::from_secs(1))
    );
    assert_eq!(breaker.metrics().not_permitted_calls, 2);
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        breaker.state(),
        State::Open,
        "no timer: the next request moves it"
    );
    let trial = breaker.try_acquire().unwrap();
    assert_eq!(
        (trial.state(), breaker.state()),
        (State::HalfOpen, State::HalfOpen)
    );
}

fn half_open(clock: &ManualClock, breaker: &CircuitBreaker) {
    fail(breaker);
    fail(breaker);
    clock.advance(breaker.config().wait_in_open.max);
    drop(breaker.try_acquire().unwrap());
    assert_eq!(breaker.state(), State::HalfOpen);
}

#[test]
fn half_open_admits_exactly_its_permits_and_a_dropped_permit_frees_its_slot() {
    let clock = ManualClock::new();
    let breaker = counting(&clock, 2, 2);
    half_open(&clock, &breaker);
    let first = breaker.try_acquire().unwrap();
    let second = breaker.try_acquire().unwrap();
    assert_eq!(
        parts(breaker.try_acquire().unwrap_err()),
        (State::HalfOpen, None)
    );
    drop(first);
    let third = breaker.try_acquire().expect("the dropped permit's slot");
    second.success();
    assert_eq!(
        breaker.state(),
        State::HalfOpen,
        "one outcome of the two needed"
    );
    third.success();
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(
        breaker.metrics().buffered_calls,
        0,
        "closed starts with an empty window"
    );
}

#[test]
fn half_open_decides_after_the_smaller_of_minimum_and_permitted_calls() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, |b| {
        b.sliding_window(SlidingWindow::Count(2))
            .minimum_calls(1)
            .permitted_calls_in_half_open(5)
    });
    fail(&breaker);
    clock.advance(Duration::from_secs(60));
    drop(breaker.try_acquire().unwrap());
    succeed(&breaker);
    assert_eq!(
        breaker.state(),
        State::Closed,
        "one outcome is the quota: min(1, 5)"
    );
}

#[test]
fn failed_trials_reopen_with_a_growing_wait() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, |b| {
        b.sliding_window(SlidingWindow::Count(2))
            .minimum_calls(2)
            .permitted_calls_in_half_open(1)
            .wait_in_open(WaitInOpen::exponential(
                Duration::from_secs(10),
                2.0,
                Duration::from_secs(25),
            ))
    });
    fail(&breaker);
    fail(&breaker);
    for expected in [20, 25, 25] {
        clock.advance(Duration::from_secs(30));
        fail(&breaker); // the trial call fails
        assert_eq!(breaker.state(), State::Open);
        assert_eq!(
            breaker.try_acquire().unwrap_err().retry_after(),
            Some(Duration::from_secs(expected))
        );
    }
    clock.advance(Duration::from_secs(30));
    succeed(&breaker);
    assert_eq!(breaker.state(), State::Closed);
    fail(&breaker);
    fail(&breaker);
    assert_eq!(
        breaker.try_acquire().unwrap_err().retry_after(),
        Some(Duration::from_secs(10)),
        "closing starts over"
    );
}

#[test]
fn a_half_open_breaker_whose_trials_never_finish_reopens_after_the_maximum_wait() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, |b| {
        b.sliding_window(SlidingWindow::Count(2))
            .minimum_calls(2)
            .permitted_calls_in_half_open(1)
            .max_wait_in_half_open(Some(Duration::from_secs(5)))
    });
    half_open(&clock, &breaker);
    let stuck = breaker.try_acquire().unwrap();
    clock.advance(Duration::from_secs(4));
    assert_eq!(breaker.try_acquire().unwrap_err().state(), State::HalfOpen);
    clock.advance(Duration::from_secs(1));
    assert_eq!(breaker.try_acquire().unwrap_err().state(), State::Open);
    stuck.success();
    assert_eq!(
        breaker.state(),
        State::Open,
        "a late outcome from the old episode counts for nothing"
    );
}

#[test]
fn classifier_ignores_and_records_as_told() {
    let clock = ManualClock::new();
    let breaker = counting(&clock, 4, 2);
    let classifier = Classifier::new()
        .record_if(|code: &u16| *code >= 500)
        .ignore_if(|code: &u16| *code == 503 || *code == 404);
    for code in [404, 503, 302, 302] {
        let _ = breaker.call_with(&classifier, || Err::<(), u16>(code));
    }
    let metrics = breaker.metrics();
    assert_eq!(
        (metrics.buffered_calls, metrics.failed_calls),
        (2, 0),
        "404 and 503 ignored; 302 is not a failure"
    );
    for _ in 0..2 {
        assert!(matches!(
            breaker.call_with(&classifier, || Err::<(), u16>(500)),
            Err(CallError::Inner(500))
        ));
    }
    assert_eq!(breaker.state(), State::Open);
    assert!(breaker.call(|| Ok::<_, ()>(())).unwrap_err().is_rejected());
}

#[test]
fn operator_states() {
    let clock = ManualClock::new();
    let breaker = counting(&clock, 2, 2);
    let seen = events(&breaker);

    breaker.transition_to_disabled().unwrap();
    fail(&breaker);
    fail(&breaker);
    assert_eq!(
        (breaker.state(), breaker.metrics().buffered_calls),
        (State::Disabled, 0)
    );

    breaker.transition_to_metrics_only().unwrap();
    fail(&breaker);
    fail(&breaker);
    assert_eq!(
        breaker.state(),
        State::MetricsOnly,
        "counts but never opens"
    );
    assert_eq!(breaker.metrics().failure_rate, Some(100.0));

    breaker.transition_to_forced_open().unwrap();
    assert_eq!(
        parts(breaker.try_acquire().unwrap_err()),
        (State::ForcedOpen, None)
    );
    clock.advance(Duration::from_secs(3600));
    assert_eq!(
        breaker.try_acquire().unwrap_err().state(),
        State::ForcedOpen
    );

    breaker.transition_to_closed().unwrap();
    assert_eq!(
        breaker.transition_to_half_open(),
        Err(TransitionError {
            from: State::Closed,
            to: State::HalfOpen
        })
    );
    fail(&breaker);
    breaker.reset();
    assert_eq!(
        (
            breaker.state(),
            breaker.metrics().buffered_calls,
            breaker.metrics().not_permitted_calls
        ),
        (State::Closed, 0, 0)
    );

    let seen = seen.lock().unwrap();
    assert!(
        seen.contains(&BreakerEvent::FailureRateExceeded { rate: 100.0 }),
        "metrics-only still reports"
    );
    assert!(seen.contains(&BreakerEvent::NotPermitted {
        state: State::ForcedOpen
    }));
    assert_eq!(seen.last(), Some(&BreakerEvent::Reset));
    let transitions: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            BreakerEvent::StateTransition { to, .. } => Some(*to),
            _ => None,
        })
        .collect();
    assert_eq!(
        transitions,
        [
            State::Disabled,
            State::MetricsOnly,
            State::ForcedOpen,
            State::Closed
        ]
    );
}

#[test]
fn consecutive_failures_count_only_within_their_window() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, |b| b.config(BreakerConfig::production_optimized()));
    fail(&breaker);
    clock.advance(Duration::from_secs(21));
    fail(&breaker);
    assert_eq!(
        breaker.state(),
        State::Closed,
        "the seed's 20 s failure window applies"
    );
    clock.advance(Duration::from_secs(19));
    fail(&breaker);
    assert_eq!(breaker.state(), State::Open, "two in a row within 20 s");
}

#[test]
fn a_success_breaks_the_streak() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, |b| b.config(BreakerConfig::balanced()));
    for _ in 0..2 {
        fail(&breaker);
        fail(&breaker);
        succeed(&breaker);
    }
    assert_eq!(breaker.state(), State::Closed);
    fail(&breaker);
    fail(&breaker);
    let seen = events(&breaker);
    fail(&breaker);
    assert_eq!(breaker.state(), State::Open);
    let seen = seen.lock().unwrap();
    assert!(seen.contains(&BreakerEvent::ConsecutiveFailuresExceeded { count: 3 }));
}

#[test]
fn the_events_of_a_trip_in_order() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, |b| {
        b.sliding_window(SlidingWindow::Count(2))
            .minimum_calls(2)
            .record_slow_calls(false)
    });
    let seen = events(&breaker);
    fail(&breaker);
    fail(&breaker);
    let _ = breaker.try_acquire();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            BreakerEvent::Failure { duration: None },
            BreakerEvent::Failure { duration: None },
            BreakerEvent::FailureRateExceeded { rate: 100.0 },
            BreakerEvent::StateTransition {
                from: State::Closed,
                to: State::Open
            },
            BreakerEvent::NotPermitted { state: State::Open },
        ]
    );
}

#[test]
fn a_cancelled_async_call_frees_its_trial_slot() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, |b| {
        b.sliding_window(SlidingWindow::Count(2))
            .minimum_calls(2)
            .permitted_calls_in_half_open(1)
    });
    half_open(&clock, &breaker);
    {
        let mut call = pin!(breaker.call_async(std::future::pending::<Result<(), ()>>()));
        let mut context = Context::from_waker(Waker::noop());
        assert!(call.as_mut().poll(&mut context).is_pending());
        assert!(breaker.try_acquire().is_err(), "the only slot is taken");
    }
    let mut call = pin!(breaker.call_async(async { Ok::<_, ()>(7) }));
    let mut context = Context::from_waker(Waker::noop());
    assert_eq!(call.as_mut().poll(&mut context), Poll::Ready(Ok(7)));
    assert_eq!(breaker.state(), State::Closed);
}

#[test]
fn durations_are_measured_with_the_injected_clock() {
    let clock = ManualClock::new();
    let breaker = counting(&clock, 10, 10);
    let seen = events(&breaker);
    let permit = breaker.try_acquire().unwrap();
    clock.advance(Duration::from_millis(42));
    permit.success();
    assert_eq!(
        seen.lock().unwrap()[0],
        BreakerEvent::Success {
            duration: Some(Duration::from_millis(42))
        }
    );
    let _ = clock.now();
}

#[test]
fn owned_permits_outlive_the_borrow() {
    let clock = ManualClock::new();
    let breaker = counting(&clock, 2, 2);
    let permit = breaker.try_acquire_owned().unwrap();
    let handle = std::thread::spawn(move || permit.failure());
    handle.join().unwrap();
    assert_eq!(breaker.metrics().failed_calls, 1);
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<CircuitBreaker>();
    check::<Permit<'_>>();
    check::<OwnedPermit>();
    check::<Rejected>();
    check::<CallError<std::io::Error>>();
    check::<BreakerConfig>();
    check::<Classifier<std::io::Error>>();
}
