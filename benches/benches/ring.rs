//! stanchion-ring against tracing-appender's non-blocking writer and crossbeam's ArrayQueue:
//! log records per second from 1 or 2 producer threads to a background writer, end to end.
//!
//! Every run is lossless, so each implementation moves every record: ours with `Overflow::Block`,
//! tracing-appender with `lossy(false)`, the ArrayQueue with producers that retry when it is full.
//! All three hold 8,192 records and write to `io::sink()`; ours in a lane per producer thread
//! (two lanes of 4,096 with two producers).
//!
//! - `ring/raw_*`: each producer sends 50,000 records with a message of 64 or 256 bytes, made
//!   once before the loop: tracing-appender's writer and the ArrayQueue get the line already
//!   formatted, time included (one `Vec` per line, which is what tracing-appender allocates), and
//!   their worker only writes it; ours gets the record already stamped, and its flusher formats
//!   the line. So no producer reads the clock. `stanchion-stamping` is ours stamping each record
//!   as it pushes it (`Record::new`), as a caller without a timestamp does: the time-stamp
//!   counter's read, about 15 ns on the CI VM, that the peers' rows leave out.
//! - `ring/tracing_*`: the same through `tracing::info!` with one field: our `RingLayer` against
//!   tracing-subscriber's `fmt` layer writing into tracing-appender's non-blocking writer.

use std::hint::black_box;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use stanchion_benches::{OURS, log_line, log_message};
use stanchion_ring::{
    FlushGuard, FlushPolicy, Flusher, Level, LogRing, Overflow, Producer, Record, WriterSink,
};

const RECORDS: usize = 50_000;
/// Ours in the raw rows when each push reads the clock, which no peer's producer does.
const OURS_STAMPING: &str = "stanchion-stamping";
const CAPACITY: usize = 8192;

/// Our ring, lossless, in `lanes` lanes of 8,192 records together, with its flusher writing
/// lines to `io::sink()`.
fn ours_lossless(lanes: usize) -> (Producer, FlushGuard) {
    let (producer, consumer) = LogRing::builder()
        .capacity(CAPACITY / lanes)
        .lanes(lanes)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    let guard = Flusher::spawn(
        consumer,
        WriterSink::new(std::io::sink()),
        FlushPolicy::default(),
    )
    .unwrap();
    (producer, guard)
}

/// Ours handed a record stamped beforehand, as the peers are handed a line formatted beforehand.
fn ours_raw(producers: usize, size: usize) -> Duration {
    let text = log_message(size);
    let record = Record::new(Level::Info, "bench", &text);
    ours_raw_pushing(producers, || record)
}

/// Ours stamping every record as it is pushed: `Record::new` reads the clock.
fn ours_raw_stamping(producers: usize, size: usize) -> Duration {
    let text = log_message(size);
    ours_raw_pushing(producers, || Record::new(Level::Info, "bench", &text))
}

/// Each producer pushes `RECORDS` records made by `record`, then the guard drains the ring.
fn ours_raw_pushing<'a>(producers: usize, record: impl Fn() -> Record<'a> + Sync) -> Duration {
    let start = Instant::now();
    let (producer, guard) = ours_lossless(producers);
    thread::scope(|s| {
        for _ in 0..producers {
            let (producer, record) = (producer.clone(), &record);
            s.spawn(move || {
                for _ in 0..RECORDS {
                    producer.push(record()).unwrap();
                }
            });
        }
    });
    drop(guard);
    start.elapsed()
}

fn appender_raw(producers: usize, size: usize) -> Duration {
    let start = Instant::now();
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(CAPACITY)
        .finish(std::io::sink());
    let text = log_line(size);
    thread::scope(|s| {
        for _ in 0..producers {
            let (mut writer, text) = (writer.clone(), &text);
            s.spawn(move || {
                for _ in 0..RECORDS {
                    writer.write_all(text).unwrap();
                }
            });
        }
    });
    drop(writer);
    drop(guard);
    start.elapsed()
}

fn array_queue_raw(producers: usize, size: usize) -> Duration {
    let start = Instant::now();
    let queue = crossbeam_queue::ArrayQueue::<Vec<u8>>::new(CAPACITY);
    let done = AtomicBool::new(false);
    let text = log_line(size);
    thread::scope(|s| {
        let (queue, done) = (&queue, &done);
        s.spawn(move || {
            let mut out = std::io::sink();
            loop {
                match queue.pop() {
                    Some(line) => out.write_all(&line).unwrap(),
                    None if done.load(Ordering::Acquire) && queue.is_empty() => break,
                    None => thread::yield_now(),
                }
            }
        });
        let workers: Vec<_> = (0..producers)
            .map(|_| {
                let text = &text;
                s.spawn(move || {
                    for _ in 0..RECORDS {
                        let mut line = text.clone();
                        while let Err(back) = queue.push(line) {
                            line = back;
                            thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        done.store(true, Ordering::Release);
    });
    start.elapsed()
}

/// Logs `RECORDS` events per producer through `dispatch`, then drops `guard` to drain.
fn through_tracing<G>(producers: usize, dispatch: tracing::Dispatch, guard: G) {
    thread::scope(|s| {
        for _ in 0..producers {
            let dispatch = dispatch.clone();
            s.spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for i in 0..RECORDS {
                        tracing::info!(
                            target: "bench",
                            i,
                            "a record of about sixty-four bytes from the hot path"
                        );
                    }
                })
            });
        }
    });
    drop(dispatch);
    drop(black_box(guard));
}

fn ours_tracing(producers: usize) -> Duration {
    use tracing_subscriber::layer::SubscriberExt;

    let start = Instant::now();
    let (producer, guard) = ours_lossless(producers);
    let subscriber = tracing_subscriber::registry().with(stanchion_ring::RingLayer::new(producer));
    through_tracing(producers, tracing::Dispatch::new(subscriber), guard);
    start.elapsed()
}

fn appender_tracing(producers: usize) -> Duration {
    use tracing_subscriber::layer::SubscriberExt;

    let start = Instant::now();
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(CAPACITY)
        .finish(std::io::sink());
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(writer),
    );
    through_tracing(producers, tracing::Dispatch::new(subscriber), guard);
    start.elapsed()
}

fn ring(c: &mut Criterion) {
    type Run = fn(usize, usize) -> Duration;
    let raw: [(&str, Run); 4] = [
        (OURS, ours_raw),
        (OURS_STAMPING, ours_raw_stamping),
        ("tracing-appender", appender_raw),
        ("crossbeam-arrayqueue", array_queue_raw),
    ];
    for producers in [1, 2] {
        for size in [64, 256] {
            let mut group = c.benchmark_group(format!("ring/raw_{producers}p_{size}b"));
            group.throughput(Throughput::Elements((producers * RECORDS) as u64));
            group.sample_size(10);
            for (name, run) in raw {
                group.bench_function(name, |b| {
                    b.iter_custom(|iters| (0..iters).map(|_| run(producers, size)).sum())
                });
            }
            group.finish();
        }
    }
    let mut group = c.benchmark_group("ring/tracing_64b");
    group.sample_size(10);
    for producers in [1, 2] {
        group.throughput(Throughput::Elements((producers * RECORDS) as u64));
        type Traced = fn(usize) -> Duration;
        let traced: [(&str, Traced); 2] =
            [(OURS, ours_tracing), ("tracing-appender", appender_tracing)];
        for (name, run) in traced {
            group.bench_function(BenchmarkId::new(name, format!("{producers}p")), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| run(producers)).sum())
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = stanchion_benches::criterion();
    targets = ring
}
criterion_main!(benches);
