//! Regression tests for races found in review: resets racing recorders, stale permits across many
//! half-open episodes, and listeners that panic.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use stanchion_breaker::*;

fn count_window(n: u32) -> CircuitBreaker {
    CircuitBreaker::builder()
        .sliding_window(SlidingWindow::Count(n))
        .minimum_calls(n)
        .failure_rate_threshold(100.0)
        .permitted_calls_in_half_open(1)
        .record_slow_calls(false)
        .build()
        .unwrap()
}

#[test]
fn resets_racing_recorders_leave_consistent_windows() {
    let breaker = count_window(100);
    let stop = Arc::new(AtomicBool::new(false));
    let recorders: Vec<_> = (0..2)
        .map(|t| {
            let (breaker, stop) = (breaker.clone(), Arc::clone(&stop));
            thread::spawn(move || {
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(permit) = breaker.try_acquire() {
                        if i % 3 == 0 {
                            permit.failure()
                        } else {
                            permit.success()
                        }
                    }
                    i += 1;
                }
            })
        })
        .collect();
    for _ in 0..20_000 {
        breaker.reset();
    }
    stop.store(true, Ordering::Relaxed);
    for recorder in recorders {
        recorder.join().unwrap();
    }
    breaker.reset();
    for _ in 0..250 {
        breaker.try_acquire().unwrap().success();
    }
    let metrics = breaker.metrics();
    assert_eq!((metrics.buffered_calls, metrics.failed_calls), (100, 0));
    assert_eq!(metrics.failure_rate, Some(0.0));
    for _ in 0..100 {
        breaker.try_acquire().unwrap().failure();
    }
    assert_eq!(
        breaker.state(),
        State::Open,
        "the window still trips after the races"
    );
}

#[test]
fn a_permit_from_an_old_episode_cannot_free_a_new_episodes_slot() {
    let breaker = count_window(2);
    breaker.transition_to_open().unwrap();
    breaker.transition_to_half_open().unwrap();
    let stale = breaker.try_acquire().unwrap();
    // 2^16 generations later: the low 16 bits of the episode number come round again.
    for _ in 0..32_768 {
        breaker.transition_to_open().unwrap();
        breaker.transition_to_half_open().unwrap();
    }
    let current = breaker.try_acquire().unwrap();
    drop(stale);
    assert!(
        breaker.try_acquire().is_err(),
        "the one slot is still taken by the current trial"
    );
    drop(current);
    assert!(breaker.try_acquire().is_ok());
}

#[test]
fn a_panicking_listener_does_not_cost_a_trial_slot() {
    let breaker = count_window(2);
    breaker.transition_to_open().unwrap();
    breaker.transition_to_half_open().unwrap();
    breaker.on_event(|event| {
        if matches!(event, BreakerEvent::Success { .. }) {
            panic!("listener bug");
        }
    });
    let permit = breaker.try_acquire().unwrap();
    assert!(catch_unwind(AssertUnwindSafe(|| permit.success())).is_err());
    breaker.clear_listeners();
    assert!(
        breaker.try_acquire().is_ok(),
        "the slot came back when the permit unwound"
    );
}

#[test]
fn closing_an_already_closed_breaker_empties_its_window() {
    let breaker = count_window(4);
    breaker.try_acquire().unwrap().failure();
    breaker.transition_to_closed().unwrap();
    assert_eq!(breaker.metrics().buffered_calls, 0);
}
