//! stanchion-breaker against recloser and failsafe: the cost of a breaker on every call.
//!
//! Every breaker counts failures over its last 100 calls (failsafe: consecutive failures, its
//! default policy), and none of them times calls, which recloser and failsafe cannot do; ours with
//! timing on (slow-call detection, two clock reads per call) is measured as `stanchion-timed`.
//! Two-thread runs share one breaker, the way a hook's breaker is shared by its callers.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use failsafe::CircuitBreaker as _;
use stanchion_benches::OURS;
use stanchion_breaker::{CircuitBreaker, SlidingWindow};

const WAIT: Duration = Duration::from_secs(3600);

fn ours(timed: bool) -> CircuitBreaker {
    CircuitBreaker::builder()
        .sliding_window(SlidingWindow::Count(100))
        .minimum_calls(10)
        .wait_in_open(stanchion_breaker::WaitInOpen::fixed(WAIT))
        .record_slow_calls(timed)
        .build()
        .unwrap()
}

fn recloser() -> recloser::Recloser {
    recloser::Recloser::custom()
        .error_rate(0.5)
        .closed_len(100)
        .half_open_len(10)
        .open_wait(WAIT)
        .build()
}

fn failsafe() -> impl failsafe::CircuitBreaker + Sync {
    let backoff = failsafe::backoff::constant(WAIT);
    failsafe::Config::new()
        .failure_policy(failsafe::failure_policy::consecutive_failures(10, backoff))
        .build()
}

/// Runs `op` `iters` times on each of `threads` threads at once; the wall time of the whole.
fn on_threads(threads: usize, iters: u64, op: &(impl Fn() + Sync)) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| (0..iters).for_each(|_| op()));
        }
    });
    start.elapsed()
}

/// One group per workload: each implementation at 1 and 2 threads, `Throughput` counting every
/// call of every thread.
fn group(c: &mut Criterion, name: &str, implementations: &[(&str, &(dyn Fn() + Sync))]) {
    let mut group = c.benchmark_group(format!("breaker/{name}"));
    for threads in [1usize, 2] {
        group.throughput(Throughput::Elements(threads as u64));
        for &(implementation, op) in implementations {
            group.bench_function(BenchmarkId::new(implementation, threads), |b| {
                if threads == 1 {
                    b.iter(op);
                } else {
                    b.iter_custom(|iters| on_threads(threads, iters, &op));
                }
            });
        }
    }
    group.finish();
}

fn closed(c: &mut Criterion) {
    let (plain, timed, recloser, failsafe) = (ours(false), ours(true), recloser(), failsafe());
    group(
        c,
        "closed",
        &[
            (OURS, &|| plain.try_acquire().unwrap().success()),
            (&format!("{OURS}-timed"), &|| {
                timed.try_acquire().unwrap().success()
            }),
            ("recloser", &|| {
                drop(black_box(recloser.call(|| Ok::<_, ()>(()))))
            }),
            ("failsafe", &|| {
                drop(black_box(failsafe.call(|| Ok::<_, ()>(()))))
            }),
        ],
    );
}

fn rejected(c: &mut Criterion) {
    let (ours, recloser, failsafe) = (ours(false), recloser(), failsafe());
    // recloser decides only once its ring has wrapped: fail well past the window.
    for _ in 0..300 {
        let _ = ours.call(|| Err::<(), _>(()));
        let _ = recloser.call(|| Err::<(), _>(()));
        let _ = failsafe.call(|| Err::<(), _>(()));
    }
    assert!(ours.try_acquire().is_err(), "ours is open");
    assert!(
        recloser.call(|| Ok::<_, ()>(())).is_err(),
        "recloser is open"
    );
    assert!(
        failsafe.call(|| Ok::<_, ()>(())).is_err(),
        "failsafe is open"
    );
    group(
        c,
        "rejected",
        &[
            (OURS, &|| drop(black_box(ours.try_acquire()))),
            ("recloser", &|| {
                drop(black_box(recloser.call(|| Ok::<_, ()>(()))))
            }),
            ("failsafe", &|| {
                drop(black_box(failsafe.call(|| Ok::<_, ()>(()))))
            }),
        ],
    );
}

/// A breaker around a no-op closure against the bare closure: the overhead a call pays.
fn around_noop(c: &mut Criterion) {
    let ours = ours(false);
    let noop = || Ok::<u64, ()>(black_box(1));
    let mut group = c.benchmark_group("breaker/around_noop");
    group.throughput(Throughput::Elements(1));
    group.bench_function(OURS, |b| b.iter(|| ours.call(noop)));
    group.bench_function("bare", |b| b.iter(noop));
    group.finish();
}

criterion_group! {
    name = benches;
    config = stanchion_benches::criterion();
    targets = closed, rejected, around_noop
}
criterion_main!(benches);
