//! Many threads: every item popped exactly once, order kept per producer and level, backpressure,
//! close and drain, fairness, and async waits.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use stanchion_queue::{Fairness, PopError, Priority, PriorityQueue, PushError};

const PER_PRODUCER: u64 = 20_000;

#[test]
fn every_item_is_popped_exactly_once_in_producer_order_per_level() {
    // Producers 0 and 1 push in batches, producer 2 one item at a time.
    let queue = PriorityQueue::builder().capacity(Some(64)).build().unwrap();
    let producers: Vec<_> = (0..3u64)
        .map(|p| {
            let queue = queue.clone();
            thread::spawn(move || {
                if p < 2 {
                    // Batches of 8 items per level: producer 0 pushes again what did not fit,
                    // producer 1 waits for room.
                    for start in (0..PER_PRODUCER).step_by(24) {
                        for level in 0..3 {
                            let mut batch: Vec<_> = (start..(start + 24).min(PER_PRODUCER))
                                .filter(|i| i % 3 == level)
                                .map(|i| (p, i))
                                .collect();
                            let priority = Priority::Level(level as u8);
                            if p == 1 {
                                queue.push_batch(&mut batch, priority).unwrap();
                                assert!(batch.is_empty());
                            }
                            while !batch.is_empty() {
                                if queue.try_push_batch(&mut batch, priority).unwrap() == 0 {
                                    thread::yield_now();
                                }
                            }
                        }
                    }
                    return;
                }
                for i in 0..PER_PRODUCER {
                    let priority = Priority::Level((i % 3) as u8);
                    queue.push((p, i), priority).unwrap(); // blocks while full
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let queue = queue.clone();
            thread::spawn(move || {
                let mut seen = Vec::new();
                let mut batch = Vec::new();
                loop {
                    if queue.pop_batch(&mut batch, 16) > 0 {
                        seen.append(&mut batch);
                    } else if let Some((item, _)) = queue.pop() {
                        seen.push(item);
                    } else {
                        return seen; // closed and drained
                    }
                }
            })
        })
        .collect();
    for producer in producers {
        producer.join().unwrap();
    }
    queue.close();
    let seen = consumers.into_iter().map(|c| c.join().unwrap()).collect();
    assert_each_item_once_in_order(seen, 3, PER_PRODUCER);
    assert!(queue.is_empty());
    // The totals of a bounded level are its ring's positions, hundreds of laps round.
    for (level, stats) in (0..3).zip(queue.stats().levels) {
        let each = (0..PER_PRODUCER).filter(|i| i % 3 == level).count() as u64;
        assert_eq!((stats.pushed, stats.popped), (3 * each, 3 * each));
    }
}

/// Checks what each consumer saw of `(producer, i)` items, pushed at level `i % 3`: every item of
/// `producers` × `per_producer` exactly once, and within one consumer, one producer's items of one
/// level in push order.
fn assert_each_item_once_in_order(seen: Vec<Vec<(u64, u64)>>, producers: u64, per_producer: u64) {
    let mut all = HashSet::new();
    for seen in seen {
        for p in 0..producers {
            for level in 0..3 {
                let mine: Vec<u64> = seen
                    .iter()
                    .filter(|(q, i)| *q == p && i % 3 == level)
                    .map(|(_, i)| *i)
                    .collect();
                assert!(
                    mine.windows(2).all(|w| w[0] < w[1]),
                    "producer {p} level {level} out of order"
                );
            }
        }
        for item in seen {
            assert!(all.insert(item), "{item:?} popped twice");
        }
    }
    assert_eq!(
        all.len() as u64,
        producers * per_producer,
        "every item popped"
    );
}

#[test]
fn a_full_queue_hands_the_item_back_and_push_waits_for_room() {
    let queue = PriorityQueue::builder().capacity(Some(2)).build().unwrap();
    queue.try_push(1, Priority::Low).unwrap();
    queue.try_push(2, Priority::Low).unwrap();
    assert!(matches!(
        queue.try_push(3, Priority::Low),
        Err(PushError::Full(3))
    ));
    let waiting = {
        let queue = queue.clone();
        thread::spawn(move || queue.push(3, Priority::Low))
    };
    // The capacity is per level: High has room while Low waits, and taking from High does not
    // let Low in.
    queue.try_push(10, Priority::High).unwrap();
    assert_eq!(queue.try_pop(), Some((10, Priority::High)));
    thread::sleep(Duration::from_millis(50));
    assert_eq!(queue.len_of(Priority::Low), 2, "still waiting for room");
    assert_eq!(queue.try_pop(), Some((1, Priority::Low)));
    waiting.join().unwrap().unwrap();
    assert_eq!(queue.try_pop(), Some((2, Priority::Low)));
    assert_eq!(queue.try_pop(), Some((3, Priority::Low)));
    let low = queue.stats().levels[2];
    assert_eq!(
        (low.pushed, low.rejected),
        (3, 1),
        "the push that waited was not refused"
    );
}

/// Producers parked on two full levels: a pop from one level wakes its producer, not the other's.
#[test]
fn a_batch_push_waits_for_room_and_hands_back_what_close_refused() {
    let queue = PriorityQueue::builder().capacity(Some(2)).build().unwrap();
    queue.try_push(0, Priority::Normal).unwrap();
    let mut refused = vec![7, 8, 9];
    assert_eq!(queue.try_push_batch(&mut refused, Priority::Normal), Ok(1));
    assert_eq!(
        refused,
        [8, 9],
        "a full level hands the rest back, in order"
    );

    let producer = {
        let queue = queue.clone();
        thread::spawn(move || {
            let mut items = vec![1, 2, 3];
            queue
                .push_batch(&mut items, Priority::Normal)
                .map(|()| items)
        })
    };
    let mut popped = Vec::new();
    while popped.len() < 5 {
        match queue.pop_timeout(Duration::from_secs(10)) {
            Ok((item, _)) => popped.push(item),
            Err(error) => panic!("the batch push never finished: {error:?}"),
        }
    }
    assert_eq!(producer.join().unwrap().unwrap(), Vec::<i32>::new());
    assert_eq!(popped, [0, 7, 1, 2, 3]);

    // Full again, and closed while the batch waits: what was not pushed comes back.
    queue.try_push(4, Priority::Normal).unwrap();
    queue.try_push(5, Priority::Normal).unwrap();
    let producer = {
        let queue = queue.clone();
        thread::spawn(move || {
            let mut items = vec![6, 7];
            let result = queue.push_batch(&mut items, Priority::Normal);
            (result, items)
        })
    };
    thread::sleep(Duration::from_millis(50));
    queue.close();
    let (result, items) = producer.join().unwrap();
    assert!(matches!(result, Err(PushError::Closed(()))), "{result:?}");
    assert_eq!(items, [6, 7]);
    let levels = queue.stats().levels;
    assert_eq!(
        levels[1].rejected,
        2 + 2,
        "the first batch's two and the closed batch's two"
    );
    assert!(matches!(
        queue.push_batch(&mut vec![1], Priority::Level(9)),
        Err(PushError::NoSuchLevel { level: 9, .. })
    ));

    // The non-waiting batch push says why it stopped: a retry loop must not spin on a closed
    // queue or a missing level as it would on a full one.
    let mut late = vec![8, 9];
    assert_eq!(
        queue.try_push_batch(&mut late, Priority::Low),
        Err(PushError::Closed(()))
    );
    assert_eq!(late, [8, 9], "a closed queue hands the batch back");
    assert_eq!(
        queue.try_push_batch(&mut late, Priority::Level(9)),
        Err(PushError::NoSuchLevel { item: (), level: 9 })
    );
    assert_eq!(late, [8, 9], "a missing level hands the batch back");
}

#[test]
fn a_pop_wakes_the_producer_waiting_on_that_level() {
    for _ in 0..20 {
        let queue = PriorityQueue::builder().capacity(Some(1)).build().unwrap();
        queue.try_push(1, Priority::High).unwrap();
        queue.try_push(2, Priority::Low).unwrap();
        let waiting: Vec<_> = [(3, Priority::High), (4, Priority::Low)]
            .into_iter()
            .map(|(item, priority)| {
                let queue = queue.clone();
                thread::spawn(move || queue.push(item, priority))
            })
            .collect();
        thread::sleep(Duration::from_millis(5));
        let mut seen = Vec::new();
        while seen.len() < 4 {
            match queue.pop_timeout(Duration::from_secs(5)) {
                Ok((item, _)) => seen.push(item),
                Err(error) => panic!("{error} after {seen:?}: a producer was not woken"),
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, [1, 2, 3, 4]);
        waiting.into_iter().for_each(|w| w.join().unwrap().unwrap());
    }
}

#[test]
fn close_wakes_everyone_and_consumers_drain_first() {
    let queue = PriorityQueue::<u32>::builder()
        .capacity(Some(1))
        .build()
        .unwrap();
    queue.try_push(7, Priority::Normal).unwrap();
    let blocked_producer = {
        let queue = queue.clone();
        thread::spawn(move || queue.push(8, Priority::Normal))
    };
    thread::sleep(Duration::from_millis(20));
    queue.close();
    assert!(matches!(
        blocked_producer.join().unwrap(),
        Err(PushError::Closed(8))
    ));
    assert!(matches!(
        queue.try_push(9, Priority::High),
        Err(PushError::Closed(9))
    ));
    assert_eq!(
        queue.pop(),
        Some((7, Priority::Normal)),
        "what was in the queue is still delivered"
    );
    assert_eq!(queue.pop(), None);
    assert_eq!(
        queue.pop_timeout(Duration::from_secs(5)),
        Err(PopError::Closed)
    );

    let empty = PriorityQueue::<u32>::new();
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let queue = empty.clone();
            thread::spawn(move || queue.pop())
        })
        .collect();
    thread::sleep(Duration::from_millis(20));
    empty.close();
    for waiter in waiters {
        assert_eq!(waiter.join().unwrap(), None);
    }
}

#[test]
fn pop_timeout_times_out_and_wakes_for_a_push() {
    let queue = PriorityQueue::<u32>::new();
    assert_eq!(
        queue.pop_timeout(Duration::from_millis(10)),
        Err(PopError::Timeout)
    );
    let start = Arc::new(Barrier::new(2));
    let pusher = {
        let (queue, start) = (queue.clone(), Arc::clone(&start));
        thread::spawn(move || {
            start.wait();
            thread::sleep(Duration::from_millis(20));
            queue.try_push(5, Priority::Low).unwrap();
        })
    };
    start.wait();
    assert_eq!(
        queue.pop_timeout(Duration::from_secs(10)),
        Ok((5, Priority::Low))
    );
    pusher.join().unwrap();
}

#[test]
fn pop_timeout_takes_a_timeout_too_long_for_a_deadline() {
    let queue: PriorityQueue<u32> = PriorityQueue::new();
    queue.try_push(1, Priority::High).unwrap();
    assert_eq!(
        queue.pop_timeout(Duration::MAX).unwrap(),
        (1, Priority::High)
    );
    let waiting = queue.clone();
    let popped = thread::spawn(move || waiting.pop_timeout(Duration::MAX));
    thread::sleep(Duration::from_millis(20));
    queue.try_push(2, Priority::Low).unwrap();
    assert_eq!(popped.join().unwrap().unwrap(), (2, Priority::Low));
}

#[test]
fn a_thread_popping_two_weighted_queues_walks_each_schedule_whole() {
    let filled = || {
        let queue: PriorityQueue<u32> = PriorityQueue::builder()
            .levels(2)
            .fairness(Fairness::Weighted(vec![1, 1]))
            .build()
            .unwrap();
        for item in 0..100 {
            queue.try_push(item, Priority::Level(0)).unwrap();
            queue.try_push(item, Priority::Level(1)).unwrap();
        }
        queue
    };
    let (first, second) = (filled(), filled());
    let mut second_level = [0, 0];
    for _ in 0..50 {
        if first.try_pop().unwrap().1 == Priority::Level(1) {
            second_level[0] += 1;
        }
        if second.try_pop().unwrap().1 == Priority::Level(1) {
            second_level[1] += 1;
        }
    }
    // Equal weights, both levels full: half of each queue's pops from each level.
    assert_eq!(second_level, [25, 25]);
}

#[test]
fn weighted_fairness_serves_levels_in_proportion() {
    let queue = PriorityQueue::builder()
        .fairness(Fairness::Weighted(vec![6, 3, 1]))
        .build()
        .unwrap();
    for i in 0..3000 {
        for level in 0..3 {
            queue.try_push(i, Priority::Level(level)).unwrap();
        }
    }
    let mut served = [0usize; 3];
    for _ in 0..5000 {
        let (_, priority) = queue.try_pop().unwrap();
        served[usize::from(priority.level())] += 1;
    }
    // 6 : 3 : 1 of 5000 is 3000 : 1500 : 500; High runs out at 3000, so allow 2%.
    for (got, want) in served.iter().zip([3000.0, 1500.0, 500.0]) {
        assert!(
            (*got as f64 - want).abs() <= want * 0.02,
            "served {served:?}"
        );
    }
    // Strict would never have served Low while High had items.
    let strict = PriorityQueue::new();
    for i in 0..100 {
        strict.try_push(i, Priority::Low).unwrap();
        strict.try_push(i, Priority::High).unwrap();
    }
    assert!((0..100).all(|_| strict.try_pop().unwrap().1 == Priority::High));
}

/// Two producer tasks and two consumer tasks on two workers, through levels of 4 places: the async
/// waits on both sides (yielding first, then parking) move every item exactly once, in each
/// producer's order per level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_producers_and_consumers_move_every_item_once() {
    const ITEMS: u64 = 5_000;
    let queue = PriorityQueue::builder().capacity(Some(4)).build().unwrap();
    let producers: Vec<_> = (0..2u64)
        .map(|p| {
            let queue = queue.clone();
            tokio::spawn(async move {
                for i in 0..ITEMS {
                    let priority = Priority::Level((i % 3) as u8);
                    queue.push_async((p, i), priority).await.unwrap();
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let queue = queue.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while let Some((item, _)) = queue.pop_async().await {
                    seen.push(item);
                }
                seen
            })
        })
        .collect();
    for producer in producers {
        producer.await.unwrap();
    }
    queue.close();
    let mut seen = Vec::new();
    for consumer in consumers {
        seen.push(consumer.await.unwrap());
    }
    assert_each_item_once_in_order(seen, 2, ITEMS);
}

/// An async push parked for room gets its item back when the queue closes; an async pop parked on
/// an empty queue sees the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_waits_end_at_close_and_hand_the_item_back() {
    let queue = PriorityQueue::builder()
        .levels(1)
        .capacity(Some(1))
        .build()
        .unwrap();
    queue.try_push(0u32, Priority::High).unwrap();
    let pusher = {
        let queue = queue.clone();
        tokio::spawn(async move { queue.push_async(7, Priority::High).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!pusher.is_finished(), "the push waits for room");
    queue.close();
    match pusher.await.unwrap() {
        Err(PushError::Closed(item)) => assert_eq!(item, 7),
        other => panic!("expected Closed(7), got {other:?}"),
    }
    assert_eq!(queue.pop_async().await, Some((0, Priority::High)));
    let empty = PriorityQueue::<u32>::new();
    let popper = {
        let empty = empty.clone();
        tokio::spawn(async move { empty.pop_async().await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!popper.is_finished(), "the pop waits for an item");
    empty.close();
    assert_eq!(popper.await.unwrap(), None);
    assert_eq!(queue.stats().levels[0].rejected, 1);
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<PriorityQueue<String>>();
    check::<PushError<String>>();
}

/// Two items pushed back to back must wake two sleeping consumers, even when the first one woken
/// has not run yet: each consumer here holds its item until the other has one too.
#[test]
fn back_to_back_pushes_wake_as_many_sleeping_consumers() {
    for round in 0..50 {
        let queue = PriorityQueue::<u32>::new();
        let (got, took) = std::sync::mpsc::channel();
        let release = Arc::new(Barrier::new(3));
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let (queue, got, release) = (queue.clone(), got.clone(), Arc::clone(&release));
                thread::spawn(move || {
                    let (item, _) = queue.pop().unwrap();
                    got.send(item).unwrap();
                    release.wait();
                })
            })
            .collect();
        // Let both consumers go to sleep in `pop`.
        thread::sleep(Duration::from_millis(5));
        queue.try_push(1, Priority::Normal).unwrap();
        queue.try_push(2, Priority::Normal).unwrap();
        for _ in 0..2 {
            took.recv_timeout(Duration::from_secs(2))
                .unwrap_or_else(|_| panic!("round {round}: an item waited while a consumer slept"));
        }
        release.wait();
        consumers.into_iter().for_each(|c| c.join().unwrap());
    }
}

/// `pop_batch` makes room in `out` before it claims anything: a panic there (here `out` cannot
/// grow) leaves every item in the queue and every place usable.
#[test]
fn a_panic_in_pop_batch_loses_nothing() {
    let queue = PriorityQueue::<()>::builder()
        .levels(1)
        .capacity(Some(2))
        .build()
        .unwrap();
    queue.try_push((), Priority::High).unwrap();
    queue.try_push((), Priority::High).unwrap();
    let mut full: Vec<()> = Vec::new();
    // SAFETY: a vector of a zero-sized type has room for `usize::MAX` elements, and `()` needs
    // no initialization and has no drop.
    #[allow(
        clippy::uninit_vec,
        reason = "a zero-sized type has no bytes to initialize"
    )]
    unsafe {
        full.set_len(usize::MAX - 1)
    };
    assert!(catch_unwind(AssertUnwindSafe(|| queue.pop_batch(&mut full, 2))).is_err());
    assert_eq!(queue.len(), 2);
    let mut out = Vec::new();
    assert_eq!(queue.pop_batch(&mut out, 2), 2);
    queue.try_push((), Priority::High).unwrap();
    queue.try_push((), Priority::High).unwrap();
    assert_eq!(queue.len(), 2);
}
