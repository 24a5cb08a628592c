//! stanchion-queue against crossbeam-channel (bounded and unbounded), flume, crossbeam's SegQueue
//! and async-priority-channel: items moved from producers to consumers per second.
//!
//! Each iteration moves 20,000 items with a 20/60/20 mix of High, Normal and Low (the peers without
//! priorities carry the same items). Bounded queues hold 1,024 (ours: at each level).
//! `stanchion-unbounded` is ours with unbounded levels, to compare with crossbeam's unbounded
//! channel and `SegQueue` as `stanchion` compares with the bounded channel. Consumers take one
//! item at a time, or up to 64 at once (`pop_batch` for ours; a `try_recv` loop for peers, which
//! have no batch pop).
//! In the `pushbatch64` rows ours' producers also push 64 items at once, each block of a producer's
//! items at one priority (by block, in the same mix), with `push_batch`; the peers, which have no
//! batch send, run as in the `batch64` rows.
//! SegQueue and async-priority-channel have no blocking calls, so their threads spin with a yield.
//!
//! The `async` rows move the same items between tasks on a two-worker tokio runtime, one item at a
//! time: ours with `push_async` and `pop_async`, flume with `send_async` and `recv_async`, and
//! async-priority-channel with `send` and `recv`, the calls it is made for. It runs only with one
//! producer and one consumer: with two receivers, one of them sometimes stayed parked after the
//! channel was closed and drained (1 run in 8 on the CI machine), which would hang the bench.

use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stanchion_benches::OURS;
use stanchion_queue::{Priority, PriorityQueue};

const ITEMS: usize = 20_000;
const CAPACITY: usize = 1024;
const BATCH: usize = 64;
/// Ours with unbounded levels, the peer of crossbeam's unbounded channel and `SegQueue`.
const OURS_UNBOUNDED: &str = "stanchion-unbounded";

fn priority_of(i: usize) -> u8 {
    match i * 7 % 10 {
        0..=1 => 0,
        2..=7 => 1,
        _ => 2,
    }
}

trait Item: Send + Copy + 'static {
    fn make(i: usize) -> Self;
}

impl Item for u64 {
    fn make(i: usize) -> Self {
        i as u64
    }
}

impl Item for [u64; 8] {
    fn make(i: usize) -> Self {
        [i as u64; 8]
    }
}

/// How each implementation moves `ITEMS` from `producers` threads to `consumers` threads.
#[derive(Clone, Copy)]
enum Impl {
    Ours,
    OursUnbounded,
    CrossbeamBounded,
    CrossbeamUnbounded,
    Flume,
    SegQueue,
    AsyncPriorityChannel,
}

impl Impl {
    const ALL: [Impl; 7] = [
        Impl::Ours,
        Impl::OursUnbounded,
        Impl::CrossbeamBounded,
        Impl::CrossbeamUnbounded,
        Impl::Flume,
        Impl::SegQueue,
        Impl::AsyncPriorityChannel,
    ];

    fn name(self) -> &'static str {
        match self {
            Impl::Ours => OURS,
            Impl::OursUnbounded => OURS_UNBOUNDED,
            Impl::CrossbeamBounded => "crossbeam-channel-bounded",
            Impl::CrossbeamUnbounded => "crossbeam-channel",
            Impl::Flume => "flume",
            Impl::SegQueue => "crossbeam-segqueue",
            Impl::AsyncPriorityChannel => "async-priority-channel",
        }
    }
}

/// Splits the items among producers: producer `p` makes items `p, p + n, p + 2n, ...`.
fn share(p: usize, producers: usize) -> impl Iterator<Item = usize> {
    (p..ITEMS).step_by(producers)
}

/// How items are pushed and popped.
#[derive(Clone, Copy)]
struct Mode {
    /// Consumers take up to `BATCH` at once.
    pop_batch: bool,
    /// Ours' producers push `BATCH` at once.
    push_batch: bool,
}

fn run<T: Item>(which: Impl, producers: usize, consumers: usize, mode: Mode) -> Duration {
    let batch = mode.pop_batch;
    let start = Instant::now();
    match which {
        Impl::Ours | Impl::OursUnbounded => {
            let capacity = match which {
                Impl::Ours => Some(CAPACITY),
                _ => None,
            };
            let queue = PriorityQueue::<T>::builder()
                .capacity(capacity)
                .build()
                .unwrap();
            thread::scope(|s| {
                let workers: Vec<_> = (0..producers)
                    .map(|p| {
                        let queue = &queue;
                        s.spawn(move || {
                            if mode.push_batch {
                                let mut items = Vec::with_capacity(BATCH);
                                let mut block = 0;
                                for i in share(p, producers) {
                                    items.push(T::make(i));
                                    if items.len() == BATCH || i + producers >= ITEMS {
                                        let priority = Priority::Level(priority_of(block));
                                        queue.push_batch(&mut items, priority).unwrap();
                                        block += 1;
                                    }
                                }
                                return;
                            }
                            for i in share(p, producers) {
                                queue
                                    .push(T::make(i), Priority::Level(priority_of(i)))
                                    .unwrap();
                            }
                        })
                    })
                    .collect();
                for _ in 0..consumers {
                    let queue = &queue;
                    s.spawn(move || {
                        let mut buffer = Vec::with_capacity(BATCH);
                        loop {
                            if batch && queue.pop_batch(&mut buffer, BATCH) > 0 {
                                black_box(&buffer);
                                buffer.clear();
                            } else if let Some(item) = queue.pop() {
                                black_box(item);
                            } else {
                                break;
                            }
                        }
                    });
                }
                for worker in workers {
                    worker.join().unwrap();
                }
                queue.close();
            });
        }
        Impl::CrossbeamBounded | Impl::CrossbeamUnbounded => {
            let (tx, rx) = match which {
                Impl::CrossbeamBounded => crossbeam_channel::bounded::<T>(CAPACITY),
                _ => crossbeam_channel::unbounded::<T>(),
            };
            thread::scope(|s| {
                for p in 0..producers {
                    let tx = tx.clone();
                    s.spawn(move || share(p, producers).for_each(|i| tx.send(T::make(i)).unwrap()));
                }
                drop(tx);
                for _ in 0..consumers {
                    let rx = rx.clone();
                    s.spawn(move || {
                        while let Ok(item) = rx.recv() {
                            black_box(item);
                            if batch {
                                rx.try_iter().take(BATCH - 1).for_each(|item| {
                                    black_box(item);
                                });
                            }
                        }
                    });
                }
            });
        }
        Impl::Flume => {
            let (tx, rx) = flume::bounded::<T>(CAPACITY);
            thread::scope(|s| {
                for p in 0..producers {
                    let tx = tx.clone();
                    s.spawn(move || share(p, producers).for_each(|i| tx.send(T::make(i)).unwrap()));
                }
                drop(tx);
                for _ in 0..consumers {
                    let rx = rx.clone();
                    s.spawn(move || {
                        while let Ok(item) = rx.recv() {
                            black_box(item);
                            if batch {
                                rx.try_iter().take(BATCH - 1).for_each(|item| {
                                    black_box(item);
                                });
                            }
                        }
                    });
                }
            });
        }
        Impl::SegQueue => {
            let queue = crossbeam_queue::SegQueue::<T>::new();
            let done = std::sync::atomic::AtomicBool::new(false);
            thread::scope(|s| {
                let workers: Vec<_> = (0..producers)
                    .map(|p| {
                        let queue = &queue;
                        s.spawn(move || share(p, producers).for_each(|i| queue.push(T::make(i))))
                    })
                    .collect();
                for _ in 0..consumers {
                    let (queue, done) = (&queue, &done);
                    s.spawn(move || {
                        loop {
                            match queue.pop() {
                                Some(item) => {
                                    black_box(item);
                                }
                                None if done.load(std::sync::atomic::Ordering::Acquire)
                                    && queue.is_empty() =>
                                {
                                    break;
                                }
                                None => thread::yield_now(),
                            }
                        }
                    });
                }
                for worker in workers {
                    worker.join().unwrap();
                }
                done.store(true, std::sync::atomic::Ordering::Release);
            });
        }
        Impl::AsyncPriorityChannel => {
            let (tx, rx) = async_priority_channel::bounded::<T, u8>(CAPACITY as u64);
            thread::scope(|s| {
                for p in 0..producers {
                    let tx = tx.clone();
                    s.spawn(move || {
                        for i in share(p, producers) {
                            // Its priorities run the other way: the largest is served first.
                            let mut message = (T::make(i), 2 - priority_of(i));
                            while let Err(error) = tx.try_send(message.0, message.1) {
                                message = error.into_inner();
                                thread::yield_now();
                            }
                        }
                    });
                }
                drop(tx);
                for _ in 0..consumers {
                    let rx = rx.clone();
                    s.spawn(move || {
                        loop {
                            match rx.try_recv() {
                                Ok(item) => {
                                    black_box(item);
                                }
                                Err(async_priority_channel::TryRecvError::Closed) => break,
                                Err(_) => thread::yield_now(),
                            }
                        }
                    });
                }
            });
        }
    }
    start.elapsed()
}

/// Whether `which` has an `async` row with this many producers and consumers.
fn runs_async(which: Impl, producers: usize, consumers: usize) -> bool {
    match which {
        Impl::Ours | Impl::Flume => true,
        Impl::AsyncPriorityChannel => producers == 1 && consumers == 1,
        _ => false,
    }
}

/// Moves `ITEMS` between tasks on `runtime` (see the module's docs).
fn run_async<T: Item>(
    which: Impl,
    runtime: &tokio::runtime::Runtime,
    producers: usize,
    consumers: usize,
) -> Duration {
    let start = Instant::now();
    match which {
        Impl::Ours => runtime.block_on(async {
            let queue = PriorityQueue::<T>::builder()
                .capacity(Some(CAPACITY))
                .build()
                .unwrap();
            let workers: Vec<_> = (0..producers)
                .map(|p| {
                    let queue = queue.clone();
                    tokio::spawn(async move {
                        for i in share(p, producers) {
                            let priority = Priority::Level(priority_of(i));
                            queue.push_async(T::make(i), priority).await.unwrap();
                        }
                    })
                })
                .collect();
            let takers: Vec<_> = (0..consumers)
                .map(|_| {
                    let queue = queue.clone();
                    tokio::spawn(async move {
                        while let Some(item) = queue.pop_async().await {
                            black_box(item);
                        }
                    })
                })
                .collect();
            for worker in workers {
                worker.await.unwrap();
            }
            queue.close();
            for taker in takers {
                taker.await.unwrap();
            }
        }),
        Impl::Flume => runtime.block_on(async {
            let (tx, rx) = flume::bounded::<T>(CAPACITY);
            let workers: Vec<_> = (0..producers)
                .map(|p| {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        for i in share(p, producers) {
                            tx.send_async(T::make(i)).await.unwrap();
                        }
                    })
                })
                .collect();
            drop(tx);
            let takers: Vec<_> = (0..consumers)
                .map(|_| {
                    let rx = rx.clone();
                    tokio::spawn(async move {
                        while let Ok(item) = rx.recv_async().await {
                            black_box(item);
                        }
                    })
                })
                .collect();
            for task in workers.into_iter().chain(takers) {
                task.await.unwrap();
            }
        }),
        Impl::AsyncPriorityChannel => runtime.block_on(async {
            let (tx, rx) = async_priority_channel::bounded::<T, u8>(CAPACITY as u64);
            let worker = tokio::spawn(async move {
                for i in share(0, 1) {
                    // Its priorities run the other way: the largest is served first.
                    tx.send(T::make(i), 2 - priority_of(i)).await.unwrap();
                }
            });
            let taker = tokio::spawn(async move {
                while let Ok(item) = rx.recv().await {
                    black_box(item);
                }
            });
            worker.await.unwrap();
            taker.await.unwrap();
        }),
        _ => unreachable!("no async row for {}", which.name()),
    }
    start.elapsed()
}

/// The `async` rows: see the module's docs.
fn moving_async<T: Item>(c: &mut Criterion, size: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    for (threads, producers, consumers) in [("1p1c", 1, 1), ("2p2c", 2, 2)] {
        let mut group = c.benchmark_group(format!("queue/{threads}_{size}_async"));
        group.throughput(Throughput::Elements(ITEMS as u64));
        group.sample_size(10);
        for which in Impl::ALL {
            if !runs_async(which, producers, consumers) {
                continue;
            }
            group.bench_function(which.name(), |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| run_async::<T>(which, &runtime, producers, consumers))
                        .sum()
                })
            });
        }
        group.finish();
    }
}

fn moving<T: Item>(c: &mut Criterion, size: &str) {
    for (threads, producers, consumers) in [("1p1c", 1, 1), ("2p2c", 2, 2)] {
        for (name, mode) in [
            (
                "single",
                Mode {
                    pop_batch: false,
                    push_batch: false,
                },
            ),
            (
                "batch64",
                Mode {
                    pop_batch: true,
                    push_batch: false,
                },
            ),
            (
                "pushbatch64",
                Mode {
                    pop_batch: true,
                    push_batch: true,
                },
            ),
        ] {
            let mut group = c.benchmark_group(format!("queue/{threads}_{size}_{name}"));
            group.throughput(Throughput::Elements(ITEMS as u64));
            group.sample_size(10);
            for which in Impl::ALL {
                group.bench_function(which.name(), |b| {
                    b.iter_custom(|iters| {
                        (0..iters)
                            .map(|_| run::<T>(which, producers, consumers, mode))
                            .sum()
                    })
                });
            }
            group.finish();
        }
    }
}

fn queues(c: &mut Criterion) {
    moving::<u64>(c, "8b");
    moving::<[u64; 8]>(c, "64b");
    moving_async::<u64>(c, "8b");
    moving_async::<[u64; 8]>(c, "64b");
}

criterion_group! {
    name = benches;
    config = stanchion_benches::criterion();
    targets = queues
}
criterion_main!(benches);
