//! loom models of the queue's protocol; run by `cargo xtask ci` as
//! `RUSTFLAGS="--cfg stanchion_loom" cargo test --release -p stanchion-queue --test loom`.
#![cfg(stanchion_loom)]

use loom::thread;
use stanchion_queue::{Priority, PriorityQueue, PushError};

/// A consumer that may park before the push is woken by it: no lost wake-up.
#[test]
fn a_push_wakes_a_parked_consumer() {
    loom::model(|| {
        let queue = PriorityQueue::new();
        let consumer = {
            let queue = queue.clone();
            thread::spawn(move || queue.pop())
        };
        queue.try_push(1u8, Priority::High).unwrap();
        assert_eq!(consumer.join().unwrap(), Some((1, Priority::High)));
    });
}

/// A push racing close is either refused or delivered before the consumer sees the end. (One
/// level: each level adds atomic steps to every look, and three make the model too large.)
#[test]
fn a_push_racing_close_is_refused_or_delivered() {
    loom::model(|| {
        let queue = PriorityQueue::builder().levels(1).build().unwrap();
        let producer = {
            let queue = queue.clone();
            thread::spawn(move || queue.try_push(1u8, Priority::High).is_ok())
        };
        let closer = {
            let queue = queue.clone();
            thread::spawn(move || queue.close())
        };
        let mut received = Vec::new();
        while let Some((item, _)) = queue.pop() {
            received.push(item);
        }
        let pushed = producer.join().unwrap();
        closer.join().unwrap();
        assert_eq!(
            received.len(),
            usize::from(pushed),
            "pushed {pushed}, received {received:?}"
        );
    });
}

/// Two producers race for the last place at a level: exactly one gets it, the other gets its item
/// back.
#[test]
fn capacity_admits_exactly_its_bound() {
    loom::model(|| {
        let queue = PriorityQueue::builder().capacity(Some(1)).build().unwrap();
        let racers: Vec<_> = (0..2u8)
            .map(|i| {
                let queue = queue.clone();
                thread::spawn(move || queue.try_push(i, Priority::Normal))
            })
            .collect();
        let results: Vec<_> = racers.into_iter().map(|r| r.join().unwrap()).collect();
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        assert!(results.iter().any(|r| matches!(r, Err(PushError::Full(_)))));
        assert_eq!(queue.len(), 1);
    });
}

/// A producer that may park on a full level before the pop is woken by it: no lost wake-up on the
/// room side either.
#[test]
fn a_pop_wakes_a_producer_parked_for_room() {
    loom::model(|| {
        let queue = PriorityQueue::builder().capacity(Some(1)).build().unwrap();
        queue.try_push(1u8, Priority::Normal).unwrap();
        let producer = {
            let queue = queue.clone();
            thread::spawn(move || queue.push(2, Priority::Normal))
        };
        assert_eq!(queue.try_pop(), Some((1, Priority::Normal)));
        producer.join().unwrap().unwrap();
        assert_eq!(queue.try_pop(), Some((2, Priority::Normal)));
    });
}

/// A two-place level whose head is at its last place, so its second push wraps to the next lap.
fn queue_at_the_wrap() -> PriorityQueue<u8> {
    let queue = PriorityQueue::builder()
        .levels(1)
        .capacity(Some(2))
        .build()
        .unwrap();
    queue.try_push(0, Priority::High).unwrap();
    assert_eq!(queue.try_pop(), Some((0, Priority::High)));
    queue
}

/// A batch pop takes items while a producer pushes them across the wrap: in order, and each
/// place's handoff (item, then stamp) is ordered, or loom reports the race on the item's cell.
#[test]
fn a_batch_pop_takes_items_as_they_are_pushed() {
    loom::model(|| {
        let queue = queue_at_the_wrap();
        let producer = {
            let queue = queue.clone();
            thread::spawn(move || {
                queue.try_push(1, Priority::High).unwrap();
                queue.try_push(2, Priority::High).unwrap();
            })
        };
        let mut taken = Vec::new();
        // A bounded number of looks keeps the model finite whatever the stamps' loads return.
        for _ in 0..3 {
            let wanted = 2 - taken.len();
            if queue.pop_batch(&mut taken, wanted) == 0 {
                thread::yield_now();
            }
        }
        producer.join().unwrap();
        queue.pop_batch(&mut taken, 2);
        assert_eq!(taken, [1, 2]);
    });
}

/// A batch pop and a single pop race for two items across the wrap: each is taken exactly once.
#[test]
fn a_batch_pop_and_a_pop_take_each_item_once() {
    loom::model(|| {
        let queue = queue_at_the_wrap();
        queue.try_push(1, Priority::High).unwrap();
        queue.try_push(2, Priority::High).unwrap();
        let single = {
            let queue = queue.clone();
            thread::spawn(move || queue.try_pop().map(|(item, _)| item))
        };
        let mut taken = Vec::new();
        queue.pop_batch(&mut taken, 2);
        taken.extend(single.join().unwrap());
        taken.sort_unstable();
        assert_eq!(taken, [1, 2]);
        assert!(queue.is_empty());
    });
}

/// A batch push claims both places across the wrap with one compare-and-swap while a consumer
/// pops: the items come out in order, and each place's handoff (item, then stamp) is ordered, or
/// loom reports the race on the item's cell.
#[test]
fn a_batch_push_hands_over_each_place() {
    loom::model(|| {
        let queue = queue_at_the_wrap();
        let producer = {
            let queue = queue.clone();
            thread::spawn(move || {
                let mut items = vec![1, 2];
                assert_eq!(queue.try_push_batch(&mut items, Priority::High), Ok(2));
            })
        };
        let mut taken = Vec::new();
        // A bounded number of looks keeps the model finite whatever the stamps' loads return.
        for _ in 0..2 {
            match queue.try_pop() {
                Some((item, _)) => taken.push(item),
                None => thread::yield_now(),
            }
        }
        producer.join().unwrap();
        while let Some((item, _)) = queue.try_pop() {
            taken.push(item);
        }
        assert_eq!(taken, [1, 2]);
    });
}

/// A batch push and a push race for a two-place level: together they fill it, each item is stored
/// once, and what the batch could not place is handed back in order.
#[test]
fn a_batch_push_and_a_push_share_the_room() {
    loom::model(|| {
        let queue = queue_at_the_wrap();
        let single = {
            let queue = queue.clone();
            thread::spawn(move || queue.try_push(9, Priority::High).is_ok())
        };
        let mut items = vec![1, 2];
        let pushed = queue.try_push_batch(&mut items, Priority::High).unwrap();
        let single_pushed = single.join().unwrap();
        assert_eq!(pushed + usize::from(single_pushed), 2, "the level fills");
        assert_eq!(items, [1, 2][pushed..]);
        let mut taken = Vec::new();
        queue.pop_batch(&mut taken, 2);
        taken.sort_unstable();
        let mut expected: Vec<u8> = [1, 2][..pushed].to_vec();
        if single_pushed {
            expected.push(9);
        }
        expected.sort_unstable();
        assert_eq!(taken, expected);
    });
}

/// A batch producer that may park on a full level before the pop is woken by it, and pushes the
/// rest of its batch.
#[test]
fn a_pop_wakes_a_batch_producer_parked_for_room() {
    loom::model(|| {
        let queue = PriorityQueue::builder().capacity(Some(1)).build().unwrap();
        queue.try_push(1u8, Priority::Normal).unwrap();
        let producer = {
            let queue = queue.clone();
            thread::spawn(move || {
                let mut items = vec![2];
                queue.push_batch(&mut items, Priority::Normal).unwrap();
                assert!(items.is_empty());
            })
        };
        assert_eq!(queue.try_pop(), Some((1, Priority::Normal)));
        producer.join().unwrap();
        assert_eq!(queue.try_pop(), Some((2, Priority::Normal)));
    });
}
