//! stanchion-core: what reading time through an injected `Clock` costs next to `Instant::now()`,
//! and timing a span with `mark`/`span` next to `Instant::now()` and `elapsed()`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Throughput, criterion_group, criterion_main};
use stanchion_benches::OURS;
use stanchion_core::{Clock, SystemClock};

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

criterion_group! {
    name = benches;
    config = stanchion_benches::criterion();
    targets = clock_now, clock_span
}
criterion_main!(benches);
