//! stanchion-core: what reading time through an injected `Clock` costs next to `Instant::now()`,
//! timing a span with `mark`/`span` or a `Stopwatch` next to `Instant::now()` and `elapsed()`, and
//! the wall time of log records (`SystemClock::fast_wall_nanos`) next to `SystemTime::now()`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use criterion::{Throughput, criterion_group, criterion_main};
use stanchion_benches::OURS;
use stanchion_core::{Clock, Stopwatch, SystemClock, unix_nanos};

fn clock_now(c: &mut criterion::Criterion) {
    let mut group = c.benchmark_group("core/clock_now");
    group.throughput(Throughput::Elements(1));
    // Components hold the clock as `Arc<dyn Clock>`, so measure through that indirection.
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    group.bench_function(OURS, |b| b.iter(|| black_box(&clock).now()));
    group.bench_function("std", |b| b.iter(Instant::now));
    group.finish();
}

fn clock_span(c: &mut criterion::Criterion) {
    let mut group = c.benchmark_group("core/clock_span");
    group.throughput(Throughput::Elements(1));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let start = clock.mark();
    group.bench_function(OURS, |b| {
        b.iter(|| {
            let clock = black_box(&clock);
            clock.span(black_box(start), clock.mark())
        })
    });
    let start = Instant::now();
    group.bench_function("std", |b| b.iter(|| black_box(start).elapsed()));
    group.finish();
}

/// Nanoseconds since a start, as cache expiry reads them on every hit.
fn stopwatch(c: &mut criterion::Criterion) {
    let mut group = c.benchmark_group("core/stopwatch");
    group.throughput(Throughput::Elements(1));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let watch = Stopwatch::start(Arc::clone(&clock));
    group.bench_function(OURS, |b| b.iter(|| black_box(&watch).nanos()));
    let start = clock.mark();
    group.bench_function("stanchion-nanos-since", |b| {
        b.iter(|| black_box(&clock).nanos_since(black_box(start)))
    });
    let start = Instant::now();
    group.bench_function("std", |b| {
        b.iter(|| black_box(start).elapsed().as_nanos() as u64)
    });
    group.finish();
}

/// Wall time as nanoseconds since the Unix epoch, as a log record takes it.
fn wall_nanos(c: &mut criterion::Criterion) {
    let mut group = c.benchmark_group("core/wall_nanos");
    group.throughput(Throughput::Elements(1));
    group.bench_function(OURS, |b| b.iter(SystemClock::fast_wall_nanos));
    group.bench_function("std", |b| b.iter(|| unix_nanos(SystemTime::now())));
    group.finish();
}

criterion_group! {
    name = benches;
    config = stanchion_benches::criterion();
    targets = clock_now, clock_span, stopwatch, wall_nanos
}
criterion_main!(benches);
