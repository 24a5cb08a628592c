//! loom models of the breaker's lock-free handoffs; run by `cargo xtask ci` as
//! `RUSTFLAGS="--cfg stanchion_loom" cargo test --release -p stanchion-breaker --test loom`.
#![cfg(stanchion_loom)]

use loom::thread;
use stanchion_breaker::{CircuitBreaker, SlidingWindow, State};

fn breaker(permitted: u32) -> CircuitBreaker {
    CircuitBreaker::builder()
        .sliding_window(SlidingWindow::Count(2))
        .minimum_calls(2)
        .failure_rate_threshold(100.0)
        .permitted_calls_in_half_open(permitted)
        .record_slow_calls(false)
        .build()
        .unwrap()
}

fn half_open(permitted: u32) -> CircuitBreaker {
    let breaker = breaker(permitted);
    breaker.transition_to_open().unwrap();
    breaker.transition_to_half_open().unwrap();
    breaker
}

/// Three callers race for two trial slots: exactly two get one.
#[test]
fn half_open_admits_exactly_its_permits() {
    loom::model(|| {
        let breaker = half_open(2);
        let callers: Vec<_> = (0..3)
            .map(|_| {
                let breaker = breaker.clone();
                thread::spawn(move || breaker.try_acquire_owned().ok())
            })
            .collect();
        let admitted: Vec<_> = callers
            .into_iter()
            .filter_map(|caller| caller.join().unwrap())
            .collect();
        assert_eq!(admitted.len(), 2);
    });
}

/// A permit dropped without an outcome gives its slot back exactly once, whoever races for it.
#[test]
fn a_dropped_trial_permit_frees_its_slot_once() {
    loom::model(|| {
        let breaker = half_open(1);
        let first = breaker.try_acquire_owned().unwrap();
        let dropper = thread::spawn(move || drop(first));
        let other = breaker.clone();
        let racer = thread::spawn(move || other.try_acquire_owned().ok());
        dropper.join().unwrap();
        let raced = racer.join().unwrap();
        let after = breaker.try_acquire_owned().ok();
        // The one slot is held by exactly one of the racer and the late caller.
        assert!(
            raced.is_some() != after.is_some(),
            "raced {}, after {}",
            raced.is_some(),
            after.is_some()
        );
        assert_eq!(breaker.state(), State::HalfOpen);
    });
}

/// Concurrent outcomes replacing each other's kind in a full window (a success over a failure, a
/// failure over a success) leave totals that match the slots, and never a window that is not there.
#[test]
fn closed_window_totals_stay_consistent() {
    loom::model(|| {
        let breaker = breaker(1);
        breaker.try_acquire().unwrap().failure();
        breaker.try_acquire().unwrap().success();
        let failing = breaker.clone();
        let a = thread::spawn(move || failing.try_acquire().unwrap().failure());
        let succeeding = breaker.clone();
        let b = thread::spawn(move || succeeding.try_acquire().unwrap().success());
        a.join().unwrap();
        b.join().unwrap();
        let metrics = breaker.metrics();
        assert_eq!((metrics.buffered_calls, metrics.failed_calls), (2, 1));
        assert_eq!(
            breaker.state(),
            State::Closed,
            "50% is under the 100% threshold"
        );
    });
}
