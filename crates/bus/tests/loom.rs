//! loom models of the bus's protocol; run by `cargo xtask ci` as
//! `RUSTFLAGS="--cfg stanchion_loom" cargo test --release -p stanchion-bus --test loom`.
#![cfg(stanchion_loom)]

use loom::thread;
use stanchion_bus::{Overflow, RecvError, Topic, TopicConfig, TryRecvError};
use stanchion_core::sync::Reached;

/// Receives until the topic closes: the events in order, and the total reported lost.
fn drain(sub: &mut stanchion_bus::Subscriber<String>) -> (Vec<String>, u64) {
    let (mut got, mut lost) = (Vec::new(), 0);
    loop {
        match sub.recv_blocking() {
            Ok(event) => got.push(event),
            Err(RecvError::Lagged(n)) => lost += n,
            Err(RecvError::Closed) => return (got, lost),
        }
    }
}

/// A subscriber copying an event while a publisher overwrites its slot either finishes the copy
/// first or is told it lagged: loom checks the slot for a data race, and nothing is duplicated or
/// lost unreported.
#[test]
fn drop_oldest_overwrites_race_with_a_reader() {
    loom::model(|| {
        let topic = Topic::new("t", TopicConfig::new(1, Overflow::DropOldest)).unwrap();
        let mut sub = topic.subscribe();
        let publisher = {
            let topic = topic.clone();
            thread::spawn(move || {
                for event in ["a", "b", "c"] {
                    topic.try_publish(event.to_owned()).unwrap();
                }
                topic.close();
            })
        };
        let (got, lost) = drain(&mut sub);
        publisher.join().unwrap();
        assert_eq!(got.len() as u64 + lost, 3);
        let mut sorted = got.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, got, "in order, no duplicates");
        assert_eq!(got.last().map(String::as_str), Some("c"));
    });
}

/// Under `Block` a publisher waits for room and a subscriber for events; neither wake-up is lost.
#[test]
fn block_hands_every_event_over() {
    loom::model(|| {
        let topic = Topic::new("t", TopicConfig::new(1, Overflow::Block)).unwrap();
        let mut sub = topic.subscribe();
        let publisher = {
            let topic = topic.clone();
            thread::spawn(move || {
                topic.publish_blocking("a".to_owned()).unwrap();
                topic.publish_blocking("b".to_owned()).unwrap();
                topic.close();
            })
        };
        assert_eq!(drain(&mut sub), (vec!["a".to_owned(), "b".to_owned()], 0));
        publisher.join().unwrap();
    });
}

/// A subscriber leaving while a publisher waits on it releases the publisher.
#[test]
fn unsubscribing_releases_a_blocked_publisher() {
    loom::model(|| {
        let topic = Topic::new("t", TopicConfig::new(1, Overflow::Block)).unwrap();
        let sub = topic.subscribe();
        topic.try_publish(1u8).unwrap();
        let publisher = {
            let topic = topic.clone();
            thread::spawn(move || topic.publish_blocking(2))
        };
        drop(sub);
        assert_eq!(publisher.join().unwrap(), Ok(0));
    });
}

/// A subscriber joining while events are published sees a suffix of them, in order.
#[test]
fn subscribing_races_publishing() {
    static SUBSCRIBED_FIRST: Reached = Reached::new();
    loom::model(|| {
        let topic = Topic::new("t", TopicConfig::new(1, Overflow::DropOldest)).unwrap();
        let publisher = {
            let topic = topic.clone();
            thread::spawn(move || {
                topic.try_publish(1u8).unwrap();
                topic.try_publish(2).unwrap();
            })
        };
        let mut sub = topic.subscribe();
        publisher.join().unwrap();
        let (mut got, mut lost) = (Vec::new(), 0);
        loop {
            match sub.try_recv() {
                Ok(event) => got.push(event),
                Err(TryRecvError::Lagged(count)) => lost += count,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Closed) => unreachable!(),
            }
        }
        // With room for one event, a subscriber from before both publishes lost the first, one
        // from between them has only the second, one from after has neither.
        let outcomes = [(vec![2], 1), (vec![2], 0), (vec![], 0)];
        assert!(
            outcomes.contains(&(got.clone(), lost)),
            "{got:?}, lost {lost}"
        );
        SUBSCRIBED_FIRST.mark(lost == 1);
    });
    SUBSCRIBED_FIRST.assert("subscribed before the first publish");
}
