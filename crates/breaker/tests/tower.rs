//! The tower layer: an open breaker answers without polling or calling the inner service.
#![cfg(feature = "tower")]

use std::future::{Ready, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use stanchion_breaker::*;
use tower::{Layer, Service, ServiceExt};

/// A service that fails when asked to, counting how often it is polled and called.
#[derive(Clone, Default)]
struct Counting {
    polls: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
}

impl Service<bool> for Counting {
    type Response = &'static str;
    type Error = &'static str;
    type Future = Ready<Result<&'static str, &'static str>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.polls.fetch_add(1, Ordering::Relaxed);
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, fail: bool) -> Self::Future {
        self.calls.fetch_add(1, Ordering::Relaxed);
        ready(if fail { Err("boom") } else { Ok("fine") })
    }
}

fn breaker() -> CircuitBreaker {
    CircuitBreaker::builder()
        .sliding_window(SlidingWindow::Count(3))
        .minimum_calls(3)
        .build()
        .unwrap()
}

#[tokio::test]
async fn failures_trip_the_breaker_and_an_open_breaker_never_touches_the_inner_service() {
    let inner = Counting::default();
    let breaker = breaker();
    let mut service = CircuitBreakerLayer::new(breaker.clone()).layer(inner.clone());

    assert_eq!(service.ready().await.unwrap().call(false).await, Ok("fine"));
    for _ in 0..2 {
        assert_eq!(
            service.ready().await.unwrap().call(true).await,
            Err(CallError::Inner("boom"))
        );
    }
    assert_eq!(breaker.state(), State::Open);
    let (polls, calls) = (
        inner.polls.load(Ordering::Relaxed),
        inner.calls.load(Ordering::Relaxed),
    );

    let refused = service.ready().await.unwrap().call(false).await;
    assert!(matches!(refused, Err(CallError::Rejected(r)) if r.state() == State::Open));
    assert_eq!(
        inner.polls.load(Ordering::Relaxed),
        polls,
        "not polled while open"
    );
    assert_eq!(
        inner.calls.load(Ordering::Relaxed),
        calls,
        "not called while open"
    );
}

#[tokio::test]
async fn the_classifier_decides_and_a_dropped_response_frees_its_trial_slot() {
    let inner = Counting::default();
    let breaker = breaker();
    let layer = CircuitBreakerLayer::with_classifier(
        breaker.clone(),
        Classifier::new().ignore_if(|e: &&str| *e == "boom"),
    );
    let mut service = layer.layer(inner.clone());
    for _ in 0..4 {
        let _ = service.ready().await.unwrap().call(true).await;
    }
    assert_eq!(
        breaker.state(),
        State::Closed,
        "ignored errors never trip it"
    );
}

#[tokio::test]
async fn a_dropped_response_frees_its_trial_slot() {
    let breaker = CircuitBreaker::builder()
        .permitted_calls_in_half_open(1)
        .build()
        .unwrap();
    breaker.transition_to_open().unwrap();
    breaker.transition_to_half_open().unwrap();
    let mut service = CircuitBreakerLayer::new(breaker.clone()).layer(Counting::default());
    let mut probe = service.clone();

    let in_flight = service.ready().await.unwrap().call(false);
    let refused = probe.ready().await.unwrap().call(false).await;
    assert!(
        matches!(refused, Err(CallError::Rejected(r)) if r.state() == State::HalfOpen),
        "the one slot is taken"
    );

    drop(in_flight);
    assert_eq!(
        probe.ready().await.unwrap().call(false).await,
        Ok("fine"),
        "the dropped response gave its slot back"
    );
    assert_eq!(breaker.state(), State::Closed, "the trial succeeded");
}

#[tokio::test]
async fn a_service_dropped_after_poll_ready_gives_its_slot_back() {
    let breaker = CircuitBreaker::builder()
        .permitted_calls_in_half_open(1)
        .build()
        .unwrap();
    breaker.transition_to_open().unwrap();
    breaker.transition_to_half_open().unwrap();
    let mut service = CircuitBreakerLayer::new(breaker.clone()).layer(Counting::default());
    service.ready().await.unwrap();
    assert!(
        breaker.try_acquire().is_err(),
        "poll_ready holds the one slot"
    );
    drop(service);
    assert!(breaker.try_acquire().is_ok());
}

#[tokio::test]
async fn a_refusal_is_asked_again_at_the_next_poll() {
    let breaker = CircuitBreaker::builder().build().unwrap();
    breaker.transition_to_forced_open().unwrap();
    let mut service = CircuitBreakerLayer::new(breaker.clone()).layer(Counting::default());
    service.ready().await.unwrap();
    breaker.transition_to_closed().unwrap();
    assert_eq!(service.ready().await.unwrap().call(false).await, Ok("fine"));
}
