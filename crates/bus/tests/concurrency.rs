//! Many publishers and subscribers on real threads.

use std::thread;

use stanchion_bus::{Overflow, RecvError, Topic, TopicConfig};

const PUBLISHERS: u64 = 3;
const EVENTS: u64 = 20_000;

/// Events carry (publisher, sequence); a subscriber checks that each publisher's events arrive in
/// order, and returns how many it received and how many it was told it lost.
fn consume(mut sub: stanchion_bus::Subscriber<(u64, u64)>) -> (u64, u64) {
    let mut next = [0u64; PUBLISHERS as usize];
    let (mut received, mut lost) = (0, 0);
    let mut batch = Vec::new();
    loop {
        batch.clear();
        match sub.recv_batch_blocking(&mut batch, 64) {
            Ok(_) => {
                for &(publisher, seq) in &batch {
                    let expected = &mut next[publisher as usize];
                    assert!(
                        seq >= *expected,
                        "publisher {publisher}: {seq} after {expected}"
                    );
                    *expected = seq + 1;
                    received += 1;
                }
            }
            Err(RecvError::Lagged(n)) => lost += n,
            Err(RecvError::Closed) => return (received, lost),
        }
    }
}

fn run(overflow: Overflow, subscribers: usize) -> Vec<(u64, u64)> {
    let topic = Topic::new("t", TopicConfig::new(64, overflow)).unwrap();
    let consumers: Vec<_> = (0..subscribers)
        .map(|_| {
            let sub = topic.subscribe();
            thread::spawn(move || consume(sub))
        })
        .collect();
    thread::scope(|s| {
        for publisher in 0..PUBLISHERS {
            let topic = topic.clone();
            s.spawn(move || {
                let mut seq = 0;
                while seq < EVENTS {
                    if seq % 3 == 0 {
                        let end = (seq + 16).min(EVENTS);
                        topic
                            .publish_batch_blocking((seq..end).map(|i| (publisher, i)))
                            .unwrap();
                        seq = end;
                    } else {
                        topic.publish_blocking((publisher, seq)).unwrap();
                        seq += 1;
                    }
                }
            });
        }
    });
    topic.close();
    let results: Vec<_> = consumers.into_iter().map(|c| c.join().unwrap()).collect();
    let stats = topic.stats();
    assert_eq!(stats.published, PUBLISHERS * EVENTS);
    assert_eq!(
        stats.delivered,
        results.iter().map(|r| r.0).sum::<u64>(),
        "every receive is counted"
    );
    assert_eq!(stats.lagged, results.iter().map(|r| r.1).sum::<u64>());
    results
}

#[test]
fn block_delivers_every_event_to_every_subscriber_in_publisher_order() {
    for (received, lost) in run(Overflow::Block, 3) {
        assert_eq!((received, lost), (PUBLISHERS * EVENTS, 0));
    }
}

#[test]
fn drop_oldest_loses_only_what_it_reports() {
    for (received, lost) in run(Overflow::DropOldest, 3) {
        assert_eq!(received + lost, PUBLISHERS * EVENTS);
    }
}
