//! Several producers on real threads: every record not counted as dropped reaches the sink exactly
//! once, in each producer's order, on one lane and on three (four producers, two of them sharing
//! a lane).

use std::io;
use std::sync::{Arc, Mutex};
use std::thread;

use stanchion_ring::{Batch, FlushPolicy, Flusher, FnSink, Level, LogRing, Overflow, Record};

const PRODUCERS: usize = 4;
const RECORDS: usize = 20_000;

fn run(overflow: Overflow, lanes: usize) {
    let (producer, consumer) = LogRing::builder()
        .capacity(256)
        .slot_bytes(16)
        .overflow(overflow)
        .lanes(lanes)
        .build()
        .unwrap();
    // (producer, sequence) per record, in the order the sink saw them.
    let seen: Arc<Mutex<Vec<(usize, usize)>>> = Arc::default();
    let sink = FnSink::new({
        let seen = Arc::clone(&seen);
        move |batch: &Batch| {
            let mut seen = seen.lock().unwrap();
            for record in batch.iter() {
                let text = std::str::from_utf8(record.message).unwrap();
                let (p, i) = text.split_once(':').unwrap();
                seen.push((p.parse().unwrap(), i.trim_end_matches('.').parse().unwrap()));
            }
            Ok::<(), io::Error>(())
        }
    });
    let policy = FlushPolicy {
        max_batch: 64,
        ..FlushPolicy::default()
    };
    let guard = Flusher::spawn(consumer, sink, policy).unwrap();
    thread::scope(|s| {
        for p in 0..PRODUCERS {
            let producer = producer.clone();
            s.spawn(move || {
                for i in 0..RECORDS {
                    // Every tenth message is longer than a slot and takes the spill path.
                    let text = if i % 10 == 0 {
                        format!("{p}:{i}.................")
                    } else {
                        format!("{p}:{i}")
                    };
                    let _ = producer.push(Record::new(Level::Info, "c", text.as_bytes()));
                }
            });
        }
    });
    drop(guard);
    let stats = producer.stats();
    let seen = seen.lock().unwrap();
    let mut next = [0usize; PRODUCERS];
    for &(p, i) in seen.iter() {
        assert!(i >= next[p], "producer {p}: {i} after {}", next[p]);
        next[p] = i + 1;
    }
    assert_eq!(
        seen.len() as u64 + stats.dropped,
        (PRODUCERS * RECORDS) as u64
    );
    assert_eq!(stats.flushed, seen.len() as u64);
    if overflow == Overflow::Block {
        assert_eq!(stats.dropped, 0);
    }
}

#[test]
fn drop_newest_delivers_every_record_not_dropped_once_in_order() {
    run(Overflow::DropNewest, 1);
}

#[test]
fn drop_newest_delivers_every_record_not_dropped_once_in_order_over_three_lanes() {
    run(Overflow::DropNewest, 3);
}

#[test]
fn drop_oldest_delivers_every_record_not_dropped_once_in_order() {
    run(Overflow::DropOldest, 1);
}

#[test]
fn drop_oldest_delivers_every_record_not_dropped_once_in_order_over_three_lanes() {
    run(Overflow::DropOldest, 3);
}

#[test]
fn block_delivers_every_record_once_in_order() {
    run(Overflow::Block, 1);
}

#[test]
fn block_delivers_every_record_once_in_order_over_three_lanes() {
    run(Overflow::Block, 3);
}
