use std::io;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use stanchion_ring::{
    Batch, ConfigError, FileSink, FlushGuard, FlushPolicy, Flusher, FnSink, Level, LogRing,
    Overflow, Producer, PushError, Record, Timestamp, WriterSink,
};

type Lines = Arc<Mutex<Vec<String>>>;

/// A sink collecting messages as strings.
fn collect() -> (
    Lines,
    FnSink<impl FnMut(&Batch) -> io::Result<()> + Send + 'static>,
) {
    collect_after(|| {})
}

/// A sink collecting messages as strings, after calling `before` on each batch (which may panic).
fn collect_after(
    mut before: impl FnMut() + Send + 'static,
) -> (
    Lines,
    FnSink<impl FnMut(&Batch) -> io::Result<()> + Send + 'static>,
) {
    let lines: Lines = Arc::default();
    let sink = FnSink::new({
        let lines = Arc::clone(&lines);
        move |batch: &Batch| {
            before();
            let mut lines = lines.lock().unwrap();
            lines.extend(
                batch
                    .iter()
                    .map(|r| String::from_utf8(r.message.to_vec()).unwrap()),
            );
            Ok(())
        }
    });
    (lines, sink)
}

fn info(message: &str) -> Record<'_> {
    Record::new(Level::Info, "test", message.as_bytes())
}

#[test]
fn invalid_configs_fail_at_build() {
    assert_eq!(
        LogRing::builder().capacity(0).build().unwrap_err(),
        ConfigError::ZeroCapacity
    );
    assert!(matches!(
        LogRing::builder()
            .capacity(1 << 30)
            .slot_bytes(1 << 10)
            .build(),
        Err(ConfigError::TooLarge { .. })
    ));
    assert_eq!(
        LogRing::builder().lanes(0).build().unwrap_err(),
        ConfigError::ZeroLanes
    );
    // 64 lanes of a ring that alone is 1 GiB and 64 MiB: too large together.
    let error = LogRing::builder()
        .capacity(1 << 20)
        .slot_bytes(1 << 10)
        .lanes(64)
        .build()
        .unwrap_err();
    assert!(matches!(error, ConfigError::TooLarge { lanes: 64, .. }));
    assert!(error.to_string().contains("64 lanes"), "{error}");
}

fn at(nanos: u64, message: &str) -> Record<'_> {
    Record {
        timestamp: Timestamp::from_unix_nanos(nanos),
        ..info(message)
    }
}

fn drained(consumer: &mut stanchion_ring::Consumer) -> Vec<String> {
    let mut batch = Batch::new();
    consumer.drain(&mut batch, usize::MAX);
    batch
        .iter()
        .map(|r| String::from_utf8(r.message.to_vec()).unwrap())
        .collect()
}

#[test]
fn each_lane_has_its_own_room_and_the_consumer_takes_the_earliest_record_of_any() {
    let (first, mut consumer) = LogRing::builder().capacity(2).lanes(2).build().unwrap();
    let second = first.clone();
    assert_eq!(first.stats().capacity, 4);
    first.push(at(1, "a")).unwrap();
    first.push(at(4, "d")).unwrap();
    // The first lane is full although the second is empty.
    assert_eq!(first.push(at(5, "lost")), Err(PushError::Full));
    second.push(at(2, "b")).unwrap();
    second.push(at(3, "c")).unwrap();
    assert_eq!(drained(&mut consumer), ["a", "b", "c", "d"]);
    assert_eq!(consumer.stats().dropped, 1);
    // A third producer wraps around to the first lane, whose room it shares.
    let third = second.clone();
    third.push(at(6, "e")).unwrap();
    first.push(at(7, "f")).unwrap();
    assert_eq!(third.push(at(8, "lost")), Err(PushError::Full));
    second.push(at(9, "g")).unwrap();
    assert_eq!(drained(&mut consumer), ["e", "f", "g"]);
}

#[test]
fn drop_oldest_drops_the_oldest_record_of_the_producers_own_lane() {
    let (first, mut consumer) = LogRing::builder()
        .capacity(1)
        .lanes(2)
        .overflow(Overflow::DropOldest)
        .build()
        .unwrap();
    let second = first.clone();
    first.push(at(1, "a")).unwrap();
    second.push(at(2, "b")).unwrap();
    first.push(at(3, "c")).unwrap();
    assert_eq!(drained(&mut consumer), ["b", "c"]);
    assert_eq!(consumer.stats().dropped, 1);
}

#[test]
fn the_guard_flushes_everything_pushed_before_it_on_drop() {
    let (producer, consumer) = LogRing::builder().capacity(64).build().unwrap();
    let (lines, sink) = collect();
    // A long delay: only the guard's drop can have written these.
    let policy = FlushPolicy {
        max_delay: Duration::from_secs(60),
        ..FlushPolicy::default()
    };
    let guard = Flusher::spawn(consumer, sink, policy).unwrap();
    for i in 0..50 {
        producer.push(info(&i.to_string())).unwrap();
    }
    let started = Instant::now();
    drop(guard);
    assert!(started.elapsed() < Duration::from_secs(5));
    let expected: Vec<String> = (0..50).map(|i| i.to_string()).collect();
    assert_eq!(*lines.lock().unwrap(), expected);
    assert_eq!(producer.stats().flushed, 50);
}

#[test]
fn records_reach_the_sink_within_max_delay() {
    let (producer, consumer) = LogRing::builder().capacity(64).build().unwrap();
    let (lines, sink) = collect();
    let policy = FlushPolicy {
        max_batch: 1000,
        max_delay: Duration::from_millis(20),
        ..FlushPolicy::default()
    };
    let _guard = Flusher::spawn(consumer, sink, policy).unwrap();
    producer.push(info("one")).unwrap();
    let started = Instant::now();
    while lines.lock().unwrap().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(2), "never flushed");
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_flusher_that_caught_up_waits_for_a_batch_rather_than_take_records_as_they_come() {
    let (producer, consumer) = LogRing::builder().capacity(64).build().unwrap();
    // The sink pushes two records as it takes its second batch, the last of what waited, as a
    // producer would while the flusher writes.
    let late = producer.clone();
    let mut batches = 0;
    let (lines, sink) = collect_after(move || {
        batches += 1;
        if batches == 2 {
            late.push(info("late 1")).unwrap();
            late.push(info("late 2")).unwrap();
        }
    });
    for i in 0..6 {
        producer.push(info(&i.to_string())).unwrap();
    }
    let policy = FlushPolicy {
        max_batch: 4,
        max_delay: Duration::from_secs(60),
        ..FlushPolicy::default()
    };
    // Batches of 4 and 2; the two late records are fewer than a batch, so the flusher sleeps
    // rather than take them at once.
    let guard = Flusher::spawn(consumer, sink, policy).unwrap();
    let started = Instant::now();
    while lines.lock().unwrap().len() < 6 {
        assert!(started.elapsed() < Duration::from_secs(5), "never flushed");
        thread::sleep(Duration::from_millis(5));
    }
    thread::sleep(Duration::from_millis(200));
    assert_eq!(lines.lock().unwrap().len(), 6);
    drop(guard);
    assert_eq!(lines.lock().unwrap()[6..], ["late 1", "late 2"]);
}

#[test]
fn a_failing_sink_is_counted_and_reported_and_the_flusher_goes_on() {
    let (producer, consumer) = LogRing::builder().capacity(64).build().unwrap();
    let calls = Arc::new(Mutex::new(0));
    let sink = FnSink::new({
        let calls = Arc::clone(&calls);
        move |_: &Batch| {
            *calls.lock().unwrap() += 1;
            Err(io::Error::other("disk full"))
        }
    });
    let guard = Flusher::spawn(consumer, sink, FlushPolicy::default()).unwrap();
    producer.push(info("a")).unwrap();
    thread::sleep(Duration::from_millis(200));
    producer.push(info("b")).unwrap();
    let stats = guard.stats();
    assert_eq!(guard.last_error().as_deref(), Some("disk full"));
    guard.shutdown().unwrap();
    let stats_after = producer.stats();
    assert!(stats.sink_errors >= 1);
    assert_eq!(stats_after.sink_errors, *calls.lock().unwrap() as u64);
    assert_eq!(
        stats_after.flushed, 2,
        "failed batches still count as handed over"
    );
}

#[test]
fn shutdown_gives_up_after_its_timeout_on_a_stuck_sink() {
    let (producer, consumer) = LogRing::builder().capacity(64).build().unwrap();
    let sink = FnSink::new(|_: &Batch| {
        thread::sleep(Duration::from_millis(500));
        Ok(())
    });
    let policy = FlushPolicy {
        shutdown_timeout: Duration::from_millis(50),
        ..FlushPolicy::default()
    };
    let guard = Flusher::spawn(consumer, sink, policy).unwrap();
    producer.push(info("slow")).unwrap();
    thread::sleep(Duration::from_millis(20));
    let started = Instant::now();
    let error = guard.shutdown().unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(400));
    assert_eq!(error.waited, Duration::from_millis(50));
}

#[test]
fn block_waits_for_the_flusher_and_loses_nothing() {
    let (producer, consumer) = LogRing::builder()
        .capacity(4)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    let (lines, sink) = collect();
    let guard = Flusher::spawn(consumer, sink, FlushPolicy::default()).unwrap();
    for i in 0..200 {
        producer.push(info(&i.to_string())).unwrap();
    }
    drop(guard);
    assert_eq!(lines.lock().unwrap().len(), 200);
    assert_eq!(producer.stats().dropped, 0);
}

#[test]
fn producers_see_closed_once_the_consumer_is_gone() {
    let (producer, consumer) = LogRing::builder()
        .capacity(1)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    producer.push(info("fills it")).unwrap();
    let waiting = {
        let producer = producer.clone();
        thread::spawn(move || producer.push(info("waits")))
    };
    thread::sleep(Duration::from_millis(20));
    drop(consumer);
    assert_eq!(waiting.join().unwrap(), Err(PushError::Closed));
    assert_eq!(producer.push(info("late")), Err(PushError::Closed));
}

#[test]
fn the_flusher_ends_when_every_producer_is_gone() {
    let (producer, consumer) = LogRing::builder().capacity(8).build().unwrap();
    let (lines, sink) = collect();
    let guard = Flusher::spawn(consumer, sink, FlushPolicy::default()).unwrap();
    producer.push(info("last words")).unwrap();
    drop(producer);
    // Finishes on its own; the guard's shutdown then returns at once.
    thread::sleep(Duration::from_millis(50));
    guard.shutdown().unwrap();
    assert_eq!(*lines.lock().unwrap(), vec!["last words".to_owned()]);
}

#[test]
fn writer_sink_writes_one_line_per_record() {
    let record = Record {
        level: Level::Warn,
        target: "jobs",
        timestamp: (std::time::UNIX_EPOCH + Duration::from_micros(1_500_000)).into(),
        message: b"retrying",
    };
    let mut sink = WriterSink::new(Vec::new());
    stanchion_ring::Sink::write(&mut sink, &record).unwrap();
    let text = String::from_utf8(sink.into_inner().unwrap()).unwrap();
    assert_eq!(text, "1970-01-01T00:00:01.500000Z  WARN jobs: retrying\n");
}

#[test]
fn file_sink_appends_and_rotates_by_size() {
    let dir = std::env::temp_dir().join(format!("stanchion-ring-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.log");
    let (producer, consumer) = LogRing::builder().capacity(64).build().unwrap();
    // Each line is 45 bytes: two fit under 100, the third rolls the file.
    let sink = FileSink::open(&path).unwrap().rotate(100, 2);
    let guard = Flusher::spawn(consumer, sink, FlushPolicy::default()).unwrap();
    for i in 0..7 {
        producer.push(info(&format!("line {i}"))).unwrap();
    }
    drop(guard);
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap();
    let current = read(&path);
    let one = read(&dir.join("app.log.1"));
    let two = read(&dir.join("app.log.2"));
    assert!(!dir.join("app.log.3").exists(), "keeps two old files");
    assert!(current.ends_with("test: line 6\n") && current.lines().count() == 1);
    assert!(one.contains("line 4") && one.contains("line 5"));
    assert!(two.contains("line 2") && two.contains("line 3"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(feature = "tracing")]
#[test]
fn the_tracing_layer_formats_events_into_the_ring() {
    use tracing_subscriber::layer::SubscriberExt;

    let (producer, mut consumer) = LogRing::builder().capacity(8).build().unwrap();
    let subscriber = tracing_subscriber::registry().with(stanchion_ring::RingLayer::new(producer));
    tracing::subscriber::with_default(subscriber, || {
        tracing::warn!(target: "jobs", job = 7, name = "build", "retrying");
    });
    let mut batch = Batch::new();
    assert_eq!(consumer.drain(&mut batch, 8), 1);
    let record = batch.iter().next().unwrap();
    assert_eq!((record.level, record.target), (Level::Warn, "jobs"));
    assert_eq!(record.message, b"retrying job=7 name=build");
}

#[cfg(feature = "tracing")]
#[test]
fn the_tracing_layer_gives_each_thread_a_lane_of_its_own() {
    use tracing_subscriber::layer::SubscriberExt;

    // One record per lane: two threads fit only if they log into different lanes.
    let (producer, mut consumer) = LogRing::builder().capacity(1).lanes(2).build().unwrap();
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry().with(stanchion_ring::RingLayer::new(producer)),
    );
    // Both threads live until both have logged (a thread that has ended leaves its producer to
    // the next thread).
    let both = std::sync::Barrier::new(2);
    thread::scope(|s| {
        for name in ["one", "two"] {
            let (dispatch, both) = (dispatch.clone(), &both);
            s.spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || tracing::info!("{name}"));
                both.wait();
            });
        }
    });
    let mut lines = drained(&mut consumer);
    lines.sort();
    assert_eq!(lines, ["one", "two"]);
    assert_eq!(consumer.stats().dropped, 0);
}

#[test]
fn a_panicking_sink_is_an_error_not_the_end_of_the_flusher() {
    let (producer, consumer) = LogRing::builder().capacity(64).build().unwrap();
    let calls = Arc::new(Mutex::new(0));
    let sink = FnSink::new({
        let calls = Arc::clone(&calls);
        move |_: &Batch| {
            let call = {
                let mut calls = calls.lock().unwrap();
                *calls += 1;
                *calls
            };
            if call == 1 {
                panic!("sink bug");
            }
            Ok(())
        }
    });
    let guard = Flusher::spawn(consumer, sink, FlushPolicy::default()).unwrap();
    producer.push(info("first")).unwrap();
    thread::sleep(Duration::from_millis(150));
    producer.push(info("second")).unwrap();
    let started = Instant::now();
    guard.shutdown().unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(
        *calls.lock().unwrap(),
        2,
        "the flusher went on after the panic"
    );
    assert_eq!(producer.stats().sink_errors, 1);
}

#[test]
fn extreme_policies_and_timestamps_do_not_panic() {
    let (producer, consumer) = LogRing::builder().capacity(8).build().unwrap();
    let policy = FlushPolicy {
        max_batch: 0,
        max_delay: Duration::MAX,
        shutdown_timeout: Duration::MAX,
    };
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = WriterSink::new(SharedBuffer(Arc::clone(&lines)));
    let guard = Flusher::spawn(consumer, sink, policy).unwrap();
    for timestamp in [
        std::time::UNIX_EPOCH - Duration::from_secs(10),
        std::time::UNIX_EPOCH + Duration::from_secs(300_000_000_000),
    ] {
        producer
            .push(Record {
                level: Level::Error,
                target: "t",
                timestamp: timestamp.into(),
                message: b"x",
            })
            .unwrap();
    }
    drop(guard);
    let text = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
    assert_eq!(
        text,
        // Before 1970 is 1970; past the nanoseconds a u64 holds is the last of them, in 2554.
        "1970-01-01T00:00:00.000000Z ERROR t: x\n2554-07-21T23:34:33.709551Z ERROR t: x\n"
    );
}

#[test]
fn a_line_carries_its_records_own_second_microseconds_and_level() {
    // 2026-11-23T10:15:02Z, then records inside it, after it and back in it.
    let second = 1_795_428_902_000_000_000u64;
    let mut format = stanchion_ring::LineFormat::new();
    let mut out = Vec::new();
    for (offset, level) in [
        (7_000, Level::Trace),
        (123_456_789, Level::Debug),
        (1_999_999_999, Level::Warn),
        (999_000, Level::Error),
        (0, Level::Info),
    ] {
        let record = Record {
            level,
            target: "jobs",
            timestamp: stanchion_ring::Timestamp::from_unix_nanos(second + offset),
            message: b"m",
        };
        format.write(&mut out, &record).unwrap();
    }
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "2026-11-23T10:15:02.000007Z TRACE jobs: m\n\
         2026-11-23T10:15:02.123456Z DEBUG jobs: m\n\
         2026-11-23T10:15:03.999999Z  WARN jobs: m\n\
         2026-11-23T10:15:02.000999Z ERROR jobs: m\n\
         2026-11-23T10:15:02.000000Z  INFO jobs: m\n"
    );
}

/// A writer into a shared buffer.
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn shutdown_does_not_wait_for_records_pushed_after_it() {
    let (producer, consumer) = LogRing::builder().capacity(1024).build().unwrap();
    let sink = FnSink::new(|_: &Batch| {
        thread::sleep(Duration::from_millis(1));
        Ok(())
    });
    let guard = Flusher::spawn(consumer, sink, FlushPolicy::default()).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let chatter = {
        let (producer, stop) = (producer.clone(), Arc::clone(&stop));
        thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = producer.push(info("chatter"));
            }
        })
    };
    thread::sleep(Duration::from_millis(20));
    let started = Instant::now();
    guard.shutdown().unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    chatter.join().unwrap();
}

/// Shutdown owes each lane the records pushed to it before the flusher noted the request. Records
/// with older timestamps that reach another lane after that are taken first, and must not count
/// towards what the first lane is owed.
#[test]
fn shutdown_writes_each_lanes_records_even_when_later_ones_elsewhere_are_older() {
    let (first, consumer) = LogRing::builder().capacity(64).lanes(2).build().unwrap();
    let second = first.clone();
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let lines: Lines = Arc::default();
    let sink = FnSink::new({
        let lines = Arc::clone(&lines);
        move |batch: &Batch| {
            for record in batch.iter() {
                let message = String::from_utf8(record.message.to_vec()).unwrap();
                if message == "gate" {
                    // Holds the flusher until the shutdown request is in.
                    gate.recv().unwrap();
                }
                if message == "a1" {
                    // After the flusher noted what it owes: older records in the other lane.
                    for (nanos, text) in [(1, "b1"), (2, "b2"), (3, "b3")] {
                        second.push(at(nanos, text)).unwrap();
                    }
                }
                lines.lock().unwrap().push(message);
            }
            Ok(())
        }
    });
    // One record a batch, so the flusher looks at the request between records.
    let policy = FlushPolicy {
        max_batch: 1,
        max_delay: Duration::from_secs(60),
        ..FlushPolicy::default()
    };
    let guard = Flusher::spawn(consumer, sink, policy).unwrap();
    first.push(at(10, "gate")).unwrap();
    for (nanos, text) in [(20, "a1"), (21, "a2"), (22, "a3")] {
        first.push(at(nanos, text)).unwrap();
    }
    let shutdown = thread::spawn(move || guard.shutdown());
    thread::sleep(Duration::from_millis(100));
    release.send(()).unwrap();
    shutdown.join().unwrap().unwrap();
    let lines = lines.lock().unwrap();
    for owed in ["gate", "a1", "a2", "a3"] {
        assert!(
            lines.iter().any(|line| line == owed),
            "{owed} missing from {lines:?}"
        );
    }
}

/// Fails the record "bad", panics on "worse", and keeps the rest.
struct PickySink(Lines);

impl stanchion_ring::Sink for PickySink {
    fn write(&mut self, record: &Record<'_>) -> io::Result<()> {
        match record.message {
            b"bad" => Err(io::Error::other("no bad records")),
            b"worse" => panic!("no worse records"),
            message => {
                let line = String::from_utf8(message.to_vec()).unwrap();
                self.0.lock().unwrap().push(line);
                Ok(())
            }
        }
    }
}

#[test]
fn a_record_the_sink_fails_or_panics_on_costs_only_that_record() {
    let (producer, consumer) = LogRing::builder().capacity(64).build().unwrap();
    let lines: Lines = Arc::default();
    let guard = Flusher::spawn(
        consumer,
        PickySink(Arc::clone(&lines)),
        FlushPolicy::default(),
    )
    .unwrap();
    for message in ["one", "bad", "two", "worse", "three"] {
        producer.push(info(message)).unwrap();
    }
    guard.shutdown().unwrap();
    assert_eq!(*lines.lock().unwrap(), ["one", "two", "three"]);
    let stats = producer.stats();
    assert_eq!((stats.flushed, stats.sink_errors), (5, 2));
}

#[test]
fn drain_with_hands_records_over_in_order_and_survives_a_panic_under_every_policy() {
    for overflow in [Overflow::Block, Overflow::DropNewest, Overflow::DropOldest] {
        let (producer, mut consumer) = LogRing::builder()
            .capacity(2)
            .overflow(overflow)
            .build()
            .unwrap();
        producer.push(info("first")).unwrap();
        producer.push(info("second")).unwrap();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            consumer.drain_with(8, |record| {
                assert_ne!(record.message, b"first", "taken");
            })
        }));
        assert!(panicked.is_err());
        // The slot of the record being taken was freed: one more fits, and the rest comes in
        // order. (Were it not freed, this push would spin on it for ever.)
        producer.try_push(info("third")).unwrap();
        let mut seen = Vec::new();
        let taken = consumer.drain_with(8, |record| seen.push(record.message.to_vec()));
        assert_eq!(taken, 2, "{overflow:?}");
        assert_eq!(
            seen,
            [b"second".to_vec(), b"third".to_vec()],
            "{overflow:?}"
        );
    }
}

/// Sleeps `delay` per record, and panics on the record "boom".
struct SlowSink {
    delay: Duration,
}

impl stanchion_ring::Sink for SlowSink {
    fn write(&mut self, record: &Record<'_>) -> io::Result<()> {
        thread::sleep(self.delay);
        assert_ne!(record.message, b"boom", "the sink panics");
        Ok(())
    }
}

/// A ring of `capacity` under `overflow`, flushed through a `SlowSink` taking `delay` per record.
fn slow_ring(
    capacity: usize,
    overflow: Overflow,
    delay: Duration,
    policy: FlushPolicy,
) -> (Producer, FlushGuard) {
    let (producer, consumer) = LogRing::builder()
        .capacity(capacity)
        .overflow(overflow)
        .build()
        .unwrap();
    let guard = Flusher::spawn(consumer, SlowSink { delay }, policy).unwrap();
    (producer, guard)
}

#[test]
fn a_drop_oldest_push_does_not_wait_for_the_sink() {
    let policy = FlushPolicy {
        max_batch: 1,
        ..FlushPolicy::default()
    };
    let (producer, guard) = slow_ring(2, Overflow::DropOldest, Duration::from_secs(1), policy);
    producer.push(info("a")).unwrap();
    producer.push(info("b")).unwrap();
    // The flusher is inside the sink's write of "a" now; under `DropOldest` its slot is free.
    thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    producer.push(info("c")).unwrap();
    producer.push(info("d")).unwrap();
    assert!(started.elapsed() < Duration::from_millis(500));
    drop(guard);
}

#[test]
fn a_blocked_push_waits_for_a_slow_sink_about_a_record_not_the_whole_batch() {
    let (producer, guard) = slow_ring(
        16,
        Overflow::Block,
        Duration::from_millis(50),
        FlushPolicy::default(),
    );
    for _ in 0..16 {
        producer.push(info("x")).unwrap();
    }
    let started = Instant::now();
    producer.push(info("y")).unwrap();
    // Woken after the second record (1 ms of waiting, seen 50 ms on); the batch takes 800 ms.
    assert!(started.elapsed() < Duration::from_millis(600));
    drop(guard);
}

#[test]
fn a_blocked_push_is_woken_when_the_sink_panics_on_the_only_record() {
    let policy = FlushPolicy {
        max_delay: Duration::from_secs(3600),
        ..FlushPolicy::default()
    };
    let (producer, guard) = slow_ring(1, Overflow::Block, Duration::from_millis(200), policy);
    producer.push(info("boom")).unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let waiter = {
        let producer = producer.clone();
        thread::spawn(move || {
            producer.push(info("after")).unwrap();
            done_tx.send(()).unwrap();
        })
    };
    assert!(
        done_rx.recv_timeout(Duration::from_secs(3)).is_ok(),
        "the blocked push was never woken"
    );
    waiter.join().unwrap();
    drop(guard);
}

#[test]
fn a_drop_oldest_sink_may_log_into_its_own_ring() {
    struct SelfLogging(stanchion_ring::Producer);

    impl stanchion_ring::Sink for SelfLogging {
        fn write(&mut self, record: &Record<'_>) -> io::Result<()> {
            if record.message == b"a" {
                self.0.push(info("from the sink")).unwrap();
            }
            Ok(())
        }
    }

    let (producer, consumer) = LogRing::builder()
        .capacity(2)
        .overflow(Overflow::DropOldest)
        .build()
        .unwrap();
    producer.push(info("a")).unwrap();
    producer.push(info("b")).unwrap();
    let guard = Flusher::spawn(
        consumer,
        SelfLogging(producer.clone()),
        FlushPolicy::default(),
    )
    .unwrap();
    thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    guard.shutdown().unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(producer.stats().flushed, 3);
}

#[test]
fn a_batch_whose_closure_panicked_is_not_handed_over_again() {
    let (producer, consumer) = LogRing::builder().capacity(64).build().unwrap();
    let mut first = true;
    let (seen, sink) = collect_after(move || {
        assert!(!std::mem::take(&mut first), "the first batch panics");
    });
    let guard = Flusher::spawn(consumer, sink, FlushPolicy::default()).unwrap();
    producer.push(info("first")).unwrap();
    thread::sleep(Duration::from_millis(150));
    producer.push(info("second")).unwrap();
    guard.shutdown().unwrap();
    assert_eq!(*seen.lock().unwrap(), ["second"]);
    assert_eq!(producer.stats().sink_errors, 1);
}

/// A fresh directory for one test's files.
fn scratch(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("stanchion-ring-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_rotation_that_fails_costs_no_record_and_is_not_retried_every_line() {
    use stanchion_ring::Sink;

    let dir = scratch("failed-roll");
    let path = dir.join("app.log");
    // `app.log.1` is a directory that is not empty: renaming the log onto it fails.
    std::fs::create_dir_all(dir.join("app.log.1").join("in-the-way")).unwrap();
    let mut sink = FileSink::open(&path).unwrap().rotate(100, 1);
    let errors = (0..10)
        .filter(|i| sink.write(&info(&format!("line {i}"))).is_err())
        .count();
    sink.flush().unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(written.lines().count(), 10, "{written}");
    // 45-byte lines: the roll is due at the 3rd line, and, having failed, again 100 bytes later.
    assert_eq!(errors, 4, "one failure per 100 bytes, not one per line");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rotation_keeping_any_number_of_files_shifts_only_those_there() {
    use stanchion_ring::Sink;

    let dir = scratch("keep-max");
    let path = dir.join("app.log");
    let (done, finished) = std::sync::mpsc::channel();
    let writer_path = path.clone();
    thread::spawn(move || {
        let mut sink = FileSink::open(&writer_path).unwrap().rotate(10, usize::MAX);
        for i in 0..4 {
            sink.write(&info(&format!("line {i}"))).unwrap();
        }
        sink.flush().unwrap();
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(Duration::from_secs(10))
        .expect("three rotations with keep = usize::MAX finish");
    let read = |n: usize| std::fs::read_to_string(dir.join(format!("app.log.{n}"))).unwrap();
    assert!(read(3).contains("line 0") && read(1).contains("line 2"));
    assert!(std::fs::read_to_string(&path).unwrap().contains("line 3"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_writer_error_does_not_tear_a_line() {
    use stanchion_ring::Sink;

    /// Fails its first write, then keeps what it is given.
    struct FailsOnce(Arc<Mutex<(bool, Vec<u8>)>>);
    impl io::Write for FailsOnce {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let mut state = self.0.lock().unwrap();
            if !state.0 {
                state.0 = true;
                return Err(io::Error::other("the disk is full"));
            }
            state.1.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let out = Arc::new(Mutex::new((false, Vec::new())));
    let mut sink = WriterSink::new(FailsOnce(Arc::clone(&out)));
    let message = "m".repeat(100);
    let errors = (0..1_000)
        .filter(|_| sink.write(&info(&message)).is_err())
        .count();
    sink.flush().unwrap();
    assert_eq!(errors, 1);
    let text = String::from_utf8(out.lock().unwrap().1.clone()).unwrap();
    for line in text.lines() {
        assert!(
            line.len() == 140 && line.ends_with(&format!("INFO test: {message}")),
            "a torn line: {line:?}"
        );
    }
}

#[test]
fn a_blocked_producer_is_woken_within_about_a_millisecond_of_a_slow_sink() {
    /// Takes a millisecond per record.
    struct Slow;
    impl stanchion_ring::Sink for Slow {
        fn write(&mut self, _: &Record<'_>) -> io::Result<()> {
            thread::sleep(Duration::from_millis(1));
            Ok(())
        }
    }
    let (producer, consumer) = LogRing::builder()
        .capacity(256)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    let guard = Flusher::spawn(consumer, Slow, FlushPolicy::default()).unwrap();
    let mut longest = Duration::ZERO;
    for i in 0..1_000 {
        let start = Instant::now();
        producer.push(info("x")).unwrap();
        if i >= 256 {
            longest = longest.max(start.elapsed());
        }
    }
    drop(guard);
    // About 1 ms and a record or two; a wait of a whole drain's records (up to 256 ms here)
    // is what this guards against.
    assert!(
        longest < Duration::from_millis(100),
        "a push waited {longest:?}"
    );
}

#[test]
fn lanes_count_their_own_bookkeeping_against_the_limit() {
    // A lane of one empty slot still has its head, tail and slot array: 2^28 of them would take
    // over 100 GiB.
    let error = LogRing::builder()
        .capacity(1)
        .slot_bytes(0)
        .lanes(1 << 28)
        .build()
        .unwrap_err();
    assert!(matches!(error, ConfigError::TooLarge { .. }), "{error}");
}
