//! Per-push latency of stanchion-ring against tracing-appender's non-blocking writer: 1 and 2
//! producers, 64- and 256-byte messages, percentiles from an HDR histogram.
//!
//! Each producer makes 200,000 calls, pausing about a microsecond between them (a program that
//! logs, not a loop that only logs), and times every call with the TSC through `quanta` (about
//! 10 ns of overhead, included). Both run their default, non-blocking policy: ours
//! `DropNewest` with a flusher writing to `io::sink()`, tracing-appender lossy with its worker
//! writing to `io::sink()`; both hold 8,192 records, ours in a lane per producer (two lanes of
//! 4,096 with two producers). Each producer thread has its own handle: a clone of our producer,
//! or of tracing-appender's writer. tracing-appender is handed a line formatted beforehand, time
//! included; ours is handed a record stamped beforehand and formats the line on the flusher, so
//! neither push reads the clock. `stanchion-stamping` is ours stamping each record as it pushes
//! it (`Record::new`), as a caller without a timestamp does: a time-stamp counter read, about
//! 15 ns on the CI VM, that the peer's row leaves out.
//!
//! Prints the table and writes it to `target/bench/sections/ring-latency.md`, which
//! `cargo xtask bench` adds to `docs/benchmarks.md`. `--test` (the smoke run) makes 2,000 calls
//! and writes nothing.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::thread;
use std::time::Duration;

use hdrhistogram::Histogram;
use stanchion_benches::{OURS, log_line, log_message};
use stanchion_ring::{FlushPolicy, Flusher, Level, LogRing, Record, WriterSink};

const CAPACITY: usize = 8192;

/// Runs a push `calls` times on each of `producers` threads, each with its own push from
/// `pusher` (its own producer or writer handle), and returns the latencies in ns.
fn measure<P: FnMut() + Send>(
    producers: usize,
    calls: usize,
    pusher: impl Fn() -> P,
) -> Histogram<u64> {
    let clock = quanta::Clock::new();
    let histograms: Vec<Histogram<u64>> = thread::scope(|s| {
        let workers: Vec<_> = (0..producers)
            .map(|_| {
                let (clock, mut push) = (&clock, pusher());
                s.spawn(move || {
                    let mut histogram = Histogram::<u64>::new_with_bounds(1, 10_000_000, 3)
                        .expect("valid histogram bounds");
                    for _ in 0..calls {
                        let start = clock.raw();
                        push();
                        let end = clock.raw();
                        histogram.saturating_record(clock.delta_as_nanos(start, end).max(1));
                        // About a microsecond of other work between log calls.
                        let pause = clock.raw();
                        while clock.delta_as_nanos(pause, clock.raw()) < 1_000 {
                            std::hint::spin_loop();
                        }
                    }
                    histogram
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let mut all = Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).expect("valid bounds");
    for histogram in &histograms {
        all.add(histogram).expect("same bounds");
    }
    all
}

/// Ours handed a record stamped beforehand, as tracing-appender is handed a line formatted
/// beforehand.
fn ours(producers: usize, size: usize, calls: usize) -> Histogram<u64> {
    let text = log_message(size);
    let record = Record::new(Level::Info, "bench", &text);
    ours_pushing(producers, calls, || record)
}

/// Ours stamping every record as it is pushed: `Record::new` reads the clock.
fn ours_stamping(producers: usize, size: usize, calls: usize) -> Histogram<u64> {
    let text = log_message(size);
    ours_pushing(producers, calls, || {
        Record::new(Level::Info, "bench", &text)
    })
}

/// Each producer pushes `calls` records made by `record` into ours, `DropNewest`, a lane each.
fn ours_pushing<'a>(
    producers: usize,
    calls: usize,
    record: impl Fn() -> Record<'a> + Sync,
) -> Histogram<u64> {
    let (producer, consumer) = LogRing::builder()
        .capacity(CAPACITY / producers)
        .lanes(producers)
        .build()
        .unwrap();
    let guard = Flusher::spawn(
        consumer,
        WriterSink::new(std::io::sink()),
        FlushPolicy::default(),
    )
    .unwrap();
    let histogram = measure(producers, calls, || {
        let (producer, record) = (producer.clone(), &record);
        move || {
            let _ = producer.push(record());
        }
    });
    drop(guard);
    histogram
}

fn appender(producers: usize, size: usize, calls: usize) -> Histogram<u64> {
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(CAPACITY)
        .finish(std::io::sink());
    let line = log_line(size);
    let histogram = measure(producers, calls, || {
        let (mut writer, line) = (writer.clone(), &line);
        move || {
            let _ = writer.write_all(line);
        }
    });
    drop(writer);
    drop(guard);
    histogram
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        println!("ring_latency: bench");
        return;
    }
    let smoke = args.iter().any(|a| a == "--test");
    let calls = if smoke { 2_000 } else { 200_000 };
    let mut table = String::from(
        "| producers | message | implementation | p50 | p99 | p99.9 | max |\n|---:|---:|---|---:|---:|---:|---:|\n",
    );
    for producers in [1, 2] {
        for size in [64, 256] {
            type Run = fn(usize, usize, usize) -> Histogram<u64>;
            let runs: [(&str, Run); 3] = [
                (OURS, ours),
                ("stanchion-stamping", ours_stamping),
                ("tracing-appender", appender),
            ];
            for (name, run) in runs {
                let h = run(producers, size, calls);
                let _ = writeln!(
                    table,
                    "| {producers} | {size} B | {name} | {} ns | {} ns | {} ns | {} ns |",
                    h.value_at_quantile(0.5),
                    h.value_at_quantile(0.99),
                    h.value_at_quantile(0.999),
                    h.max()
                );
                thread::sleep(Duration::from_millis(50));
            }
        }
    }
    println!("per-push latency\n\n{table}");
    if !smoke {
        let out =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench/sections/ring-latency.md");
        let section = format!(
            "## ring push latency\n\nPer-call latency of one push, {calls} calls per producer with about \
             1 µs between calls, timed with the TSC (`benches/benches/ring_latency.rs`). Lower is \
             better.\n\n{table}"
        );
        std::fs::create_dir_all(out.parent().expect("the sections directory has a parent"))
            .and_then(|()| std::fs::write(&out, section))
            .expect("target/bench/sections is writable");
        println!("written to {}", out.display());
    }
}
