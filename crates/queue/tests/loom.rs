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
