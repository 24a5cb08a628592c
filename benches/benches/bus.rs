//! stanchion-bus against tokio's broadcast channel and async-broadcast: events delivered per
//! second from one publisher to 1, 4 and 16 subscribers, each on its own thread.
//!
//! Each iteration publishes 20,000 `u64` events on a topic of capacity 1,024, one at a time or in
//! batches of 64 (`publish_batch` for ours; the peers have no batch publish, so they loop), and
//! subscribers receive one at a time or up to 64 at once (`recv_batch` for ours; a `try_recv`
//! loop after a blocking receive for the peers). Two of ours run: `stanchion` with
//! `Overflow::Block`, lossless like async-broadcast, and `stanchion-dropoldest`, which lags like
//! tokio's broadcast. Lossy runs deliver fewer events, so every run's time is scaled to the events
//! it would take to deliver all of them (time × expected ÷ delivered): the figure is events
//! delivered per second, and a subscriber that lagged earns nothing for what it skipped.

use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stanchion_benches::OURS;
use stanchion_bus::{Overflow, RecvError, Topic, TopicConfig};

const EVENTS: u64 = 20_000;
const CAPACITY: usize = 1024;
const BATCH: usize = 64;

#[derive(Clone, Copy)]
enum Impl {
    Ours(Overflow),
    TokioBroadcast,
    AsyncBroadcast,
}

impl Impl {
    const ALL: [Impl; 4] = [
        Impl::Ours(Overflow::Block),
        Impl::Ours(Overflow::DropOldest),
        Impl::TokioBroadcast,
        Impl::AsyncBroadcast,
    ];

    fn name(self) -> String {
        match self {
            Impl::Ours(Overflow::Block) => OURS.to_owned(),
            Impl::Ours(overflow) => format!("{OURS}-{}", format!("{overflow:?}").to_lowercase()),
            Impl::TokioBroadcast => "tokio-broadcast".to_owned(),
            Impl::AsyncBroadcast => "async-broadcast".to_owned(),
        }
    }
}

/// Publishes `EVENTS` and returns the time until every subscriber has finished, scaled as the
/// module docs say.
fn run(which: Impl, subscribers: usize, batch: bool) -> Duration {
    let start = Instant::now();
    let delivered: u64 = match which {
        Impl::Ours(overflow) => {
            let topic = Topic::new("bench", TopicConfig::new(CAPACITY, overflow)).unwrap();
            let subs: Vec<_> = (0..subscribers).map(|_| topic.subscribe()).collect();
            thread::scope(|s| {
                let receivers: Vec<_> = subs
                    .into_iter()
                    .map(|mut sub| {
                        s.spawn(move || {
                            let mut received = 0;
                            let mut buffer = Vec::with_capacity(BATCH);
                            loop {
                                let result = if batch {
                                    buffer.clear();
                                    sub.recv_batch_blocking(&mut buffer, BATCH)
                                        .map(|n| black_box(&buffer).len().min(n))
                                } else {
                                    sub.recv_blocking().map(|event| {
                                        black_box(event);
                                        1
                                    })
                                };
                                match result {
                                    Ok(n) => received += n as u64,
                                    Err(RecvError::Lagged(_)) => {}
                                    Err(RecvError::Closed) => return received,
                                }
                            }
                        })
                    })
                    .collect();
                if batch {
                    for start in (0..EVENTS).step_by(BATCH) {
                        topic
                            .publish_batch_blocking(start..(start + BATCH as u64).min(EVENTS))
                            .unwrap();
                    }
                } else {
                    for event in 0..EVENTS {
                        topic.publish_blocking(event).unwrap();
                    }
                }
                topic.close();
                receivers.into_iter().map(|r| r.join().unwrap()).sum()
            })
        }
        Impl::TokioBroadcast => {
            let (tx, _) = tokio::sync::broadcast::channel::<u64>(CAPACITY);
            let subs: Vec<_> = (0..subscribers).map(|_| tx.subscribe()).collect();
            thread::scope(|s| {
                let receivers: Vec<_> = subs
                    .into_iter()
                    .map(|mut rx| {
                        s.spawn(move || {
                            use tokio::sync::broadcast::error::{RecvError, TryRecvError};
                            let mut received = 0;
                            loop {
                                match rx.blocking_recv() {
                                    Ok(event) => {
                                        black_box(event);
                                        received += 1;
                                    }
                                    Err(RecvError::Lagged(_)) => continue,
                                    Err(RecvError::Closed) => return received,
                                }
                                for _ in 1..if batch { BATCH } else { 1 } {
                                    match rx.try_recv() {
                                        Ok(event) => {
                                            black_box(event);
                                            received += 1;
                                        }
                                        Err(TryRecvError::Lagged(_)) => {}
                                        Err(_) => break,
                                    }
                                }
                            }
                        })
                    })
                    .collect();
                for event in 0..EVENTS {
                    let _ = tx.send(event);
                }
                drop(tx);
                receivers.into_iter().map(|r| r.join().unwrap()).sum()
            })
        }
        Impl::AsyncBroadcast => {
            let (tx, rx) = async_broadcast::broadcast::<u64>(CAPACITY);
            let subs: Vec<_> = (0..subscribers).map(|_| rx.clone()).collect();
            drop(rx);
            thread::scope(|s| {
                let receivers: Vec<_> = subs
                    .into_iter()
                    .map(|mut rx| {
                        s.spawn(move || {
                            let mut received = 0;
                            while let Ok(event) = rx.recv_blocking() {
                                black_box(event);
                                received += 1;
                                for _ in 1..if batch { BATCH } else { 1 } {
                                    match rx.try_recv() {
                                        Ok(event) => {
                                            black_box(event);
                                            received += 1;
                                        }
                                        Err(_) => break,
                                    }
                                }
                            }
                            received
                        })
                    })
                    .collect();
                for event in 0..EVENTS {
                    tx.broadcast_blocking(event).unwrap();
                }
                drop(tx);
                receivers.into_iter().map(|r| r.join().unwrap()).sum()
            })
        }
    };
    let expected = EVENTS * subscribers as u64;
    start
        .elapsed()
        .mul_f64(expected as f64 / delivered.max(1) as f64)
}

fn bus(c: &mut Criterion) {
    for subscribers in [1, 4, 16] {
        for (mode, batch) in [("single", false), ("batch64", true)] {
            let mut group = c.benchmark_group(format!("bus/1pub_{subscribers}sub_{mode}"));
            group.throughput(Throughput::Elements(EVENTS * subscribers as u64));
            group.sample_size(10);
            for which in Impl::ALL {
                group.bench_function(which.name(), |b| {
                    b.iter_custom(|iters| (0..iters).map(|_| run(which, subscribers, batch)).sum())
                });
            }
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = stanchion_benches::criterion();
    targets = bus
}
criterion_main!(benches);
