//! Retry and its budget: attempts, delays, predicates, hints, and the breaker in between.

use std::sync::Arc;
use std::time::Duration;

use stanchion_breaker::*;
use stanchion_core::ManualClock;

fn fixed(attempts: u32) -> RetryBuilder<&'static str> {
    Retry::builder()
        .max_attempts(attempts)
        .base_delay(Duration::from_millis(10))
        .jitter(Jitter::None)
}

#[test]
fn attempts_count_the_first_call_and_delays_grow_to_the_cap() {
    let retry = fixed(5)
        .max_delay(Duration::from_millis(35))
        .build()
        .unwrap();
    let mut slept = Vec::new();
    let mut attempts = Vec::new();
    let error = retry
        .run_with_sleep(
            |d| slept.push(d.as_millis()),
            |attempt| {
                attempts.push(attempt);
                Err::<(), _>("down")
            },
        )
        .unwrap_err();
    assert_eq!(attempts, [1, 2, 3, 4, 5]);
    assert_eq!(slept, [10, 20, 35, 35], "doubling, capped");
    assert_eq!(
        (error.attempts, error.reason, error.error),
        (5, GaveUp::AttemptsExhausted, "down")
    );
    assert_eq!(
        error.to_string(),
        "gave up after 5 attempt(s) (AttemptsExhausted): down"
    );
}

#[test]
fn one_attempt_never_retries_and_zero_is_refused() {
    let retry = fixed(1).build().unwrap();
    let error = retry
        .run_with_sleep(|_| panic!("no sleep"), |_| Err::<(), _>("once"))
        .unwrap_err();
    assert_eq!(error.attempts, 1);
    let refused = fixed(0).build().unwrap_err();
    assert_eq!(
        refused.to_string(),
        "invalid breaker configuration: max_attempts is 0, expected at least 1 (the first call counts)"
    );
}

#[test]
fn every_jitter_stays_within_its_range_and_under_the_cap() {
    let cap = Duration::from_millis(300);
    for jitter in [Jitter::Full, Jitter::Equal, Jitter::Decorrelated] {
        let retry = Retry::<()>::builder()
            .base_delay(Duration::from_millis(100))
            .max_delay(cap)
            .jitter(jitter)
            .seed(7)
            .build()
            .unwrap();
        let mut previous = Duration::from_millis(100);
        for retry_number in 1..50 {
            let delay = retry.delay(retry_number, previous);
            let exponential = Duration::from_millis(100) * 2u32.pow((retry_number - 1).min(10));
            let (low, high) = match jitter {
                Jitter::Full => (Duration::ZERO, exponential),
                Jitter::Equal => (exponential / 2, exponential),
                _ => (Duration::from_millis(100), previous * 3),
            };
            assert!(delay <= cap, "{jitter:?}: {delay:?} over the cap");
            assert!(
                delay >= low.min(cap) && delay <= high.max(low),
                "{jitter:?} retry {retry_number}: {delay:?} outside [{low:?}, {high:?}]"
            );
            previous = delay;
        }
    }
}

#[test]
fn seeded_jitter_repeats() {
    let make = || Retry::<()>::builder().seed(42).build().unwrap();
    let (a, b) = (make(), make());
    let delays = |r: &Retry<()>| {
        (1..10)
            .map(|n| r.delay(n, Duration::ZERO))
            .collect::<Vec<_>>()
    };
    assert_eq!(delays(&a), delays(&b));
}

#[test]
fn only_retryable_errors_are_retried_and_hints_replace_the_backoff() {
    let retry = fixed(4)
        .retry_if(|e: &&str| e.starts_with("busy"))
        .retry_after(|e: &&str| {
            e.strip_prefix("busy ")
                .map(|ms| Duration::from_millis(ms.parse().unwrap()))
        })
        .max_delay(Duration::from_millis(500))
        .build()
        .unwrap();
    let mut slept = Vec::new();
    let mut replies = ["busy 250", "busy 9000", "busy", "denied"].into_iter();
    let error = retry
        .run_with_sleep(
            |d| slept.push(d.as_millis()),
            |_| Err::<(), _>(replies.next().unwrap()),
        )
        .unwrap_err();
    assert_eq!(
        slept,
        [250, 500, 40],
        "the hint, the hint capped, then the backoff for retry 3"
    );
    assert_eq!(
        (error.error, error.reason, error.attempts),
        ("denied", GaveUp::NotRetryable, 4)
    );
}

#[test]
fn the_budget_limits_retries_to_a_fraction_of_recent_calls() {
    let clock = ManualClock::new();
    let budget = Arc::new(
        RetryBudget::with_clock(0.5, 0, Duration::from_secs(10), Arc::new(clock.clone())).unwrap(),
    );
    let retry = fixed(3).budget(Arc::clone(&budget)).build().unwrap();
    // Two healthy runs deposit one retry's worth.
    for _ in 0..2 {
        retry.run_with_sleep(|_| {}, |_| Ok::<_, &str>(())).unwrap();
    }
    // A failing run: it deposits half a token, so 1.5 are there; one retry is spent, the second is refused.
    let error = retry
        .run_with_sleep(|_| {}, |_| Err::<(), _>("down"))
        .unwrap_err();
    assert_eq!((error.attempts, error.reason), (2, GaveUp::BudgetExhausted));
    // Deposits expire with the window.
    retry.run_with_sleep(|_| {}, |_| Ok::<_, &str>(())).unwrap();
    assert_eq!(budget.available(), 1);
    clock.advance(Duration::from_secs(11));
    assert_eq!(budget.available(), 0);
}

#[test]
fn the_budget_always_allows_its_minimum() {
    let clock = ManualClock::new();
    let budget =
        RetryBudget::with_clock(0.0, 1, Duration::from_secs(2), Arc::new(clock.clone())).unwrap();
    assert!(
        budget.try_withdraw() && budget.try_withdraw(),
        "1 per second over a 2 s window"
    );
    assert!(!budget.try_withdraw());
    clock.advance(Duration::from_secs(2));
    assert!(budget.try_withdraw(), "the window moved on");
    assert!(RetryBudget::new(-1.0, 0, Duration::from_secs(1)).is_err());
    assert!(RetryBudget::new(0.1, 0, Duration::from_millis(10)).is_err());
}

#[test]
fn retrying_through_a_breaker_waits_its_hint_and_spends_no_budget_on_refusals() {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .sliding_window(SlidingWindow::Count(2))
        .minimum_calls(2)
        .permitted_calls_in_half_open(1)
        .wait_in_open(WaitInOpen::fixed(Duration::from_millis(300)))
        .clock(clock.clone())
        .build()
        .unwrap();
    let budget = Arc::new(
        RetryBudget::with_clock(0.0, 2, Duration::from_secs(1), Arc::new(clock.clone())).unwrap(),
    );
    let retry = Retry::<CallError<&str>>::builder()
        .max_attempts(10)
        .base_delay(Duration::from_millis(10))
        .jitter(Jitter::None)
        .budget(Arc::clone(&budget))
        .build()
        .unwrap();
    let mut slept = Vec::new();
    let result = retry.run_through(
        &breaker,
        |d| {
            slept.push(d.as_millis());
            clock.advance(d);
        },
        |attempt| {
            if attempt <= 2 {
                Err("down")
            } else {
                Ok(attempt)
            }
        },
    );
    // Retries 1 and 2 (10 ms, 20 ms) spend the budget's two tokens. Attempt 2's failure opens the
    // breaker at 10 ms until 310 ms; attempt 3, at 30 ms, is refused and waits the breaker's 280 ms
    // hint without a token; attempt 4 is the half-open trial and succeeds.
    assert_eq!(result.unwrap(), 4);
    assert_eq!(slept, [10, 20, 280]);
    assert_eq!(
        budget.available(),
        0,
        "two tokens spent, none on the refusal"
    );
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn async_retries_sleep_on_tokios_clock() {
    let retry = fixed(3).build().unwrap();
    let start = tokio::time::Instant::now();
    let mut calls = 0;
    let result = retry
        .run_async(tokio::time::sleep, |attempt| {
            calls += 1;
            async move {
                if attempt == 3 {
                    Ok(attempt)
                } else {
                    Err("down")
                }
            }
        })
        .await;
    assert_eq!((result.unwrap(), calls), (3, 3));
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(30),
        "10 ms then 20 ms, on the paused clock"
    );
}
