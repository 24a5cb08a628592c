//! loom models of the ring's protocol; run by `cargo xtask ci` as
//! `RUSTFLAGS="--cfg stanchion_loom" cargo test --release -p stanchion-ring --test loom`.
#![cfg(stanchion_loom)]

use loom::thread;
use stanchion_core::sync::Reached;
use stanchion_ring::{Batch, Level, LogRing, Overflow, Record};

fn messages(batch: &Batch) -> Vec<Vec<u8>> {
    batch.iter().map(|r| r.message.to_vec()).collect()
}

/// Two producers and the consumer race over two slots: each record is read once, whole, after
/// its producer finished writing it (loom checks the slot for data races).
#[test]
fn producers_hand_records_to_the_consumer() {
    static HANDED_OVER: Reached = Reached::new();
    loom::model(|| {
        let (producer, mut consumer) = LogRing::builder()
            .capacity(2)
            .slot_bytes(4)
            .build()
            .unwrap();
        let other = producer.clone();
        let t = thread::spawn(move || other.push(Record::new(Level::Info, "t", b"bb")).is_ok());
        let a = producer.push(Record::new(Level::Info, "t", b"aa")).is_ok();
        let mut batch = Batch::new();
        consumer.drain(&mut batch, 2);
        HANDED_OVER.mark(messages(&batch).contains(&b"bb".to_vec()));
        let b = t.join().unwrap();
        consumer.drain(&mut batch, 2);
        assert!(a && b, "two slots hold both");
        let mut got = messages(&batch);
        got.sort();
        assert_eq!(got, vec![b"aa".to_vec(), b"bb".to_vec()]);
    });
    HANDED_OVER.assert("drained the other producer's record while it ran");
}

/// A producer reuses the slot the consumer is reading as soon as the consumer releases it, and
/// not before.
#[test]
fn a_slot_is_reused_only_after_it_was_read() {
    static REUSED: Reached = Reached::new();
    loom::model(|| {
        let (producer, mut consumer) = LogRing::builder()
            .capacity(1)
            .slot_bytes(4)
            .build()
            .unwrap();
        producer.push(Record::new(Level::Info, "t", b"aa")).unwrap();
        let t = thread::spawn(move || producer.push(Record::new(Level::Info, "t", b"bb")).is_ok());
        let mut batch = Batch::new();
        consumer.drain(&mut batch, 1);
        let second = t.join().unwrap();
        REUSED.mark(second);
        consumer.drain(&mut batch, 1);
        let expected: Vec<&[u8]> = if second {
            vec![b"aa", b"bb"]
        } else {
            vec![b"aa"]
        };
        assert_eq!(messages(&batch), expected);
    });
    REUSED.assert("pushed into the slot the consumer had just read");
}

/// Under DropOldest a producer takes the oldest record while the consumer reads: every record is
/// either read once or counted dropped, never both and never torn.
#[test]
fn drop_oldest_races_the_consumer() {
    static DROPPED: Reached = Reached::new();
    static READ_FIRST: Reached = Reached::new();
    loom::model(|| {
        let (producer, mut consumer) = LogRing::builder()
            .capacity(1)
            .slot_bytes(4)
            .overflow(Overflow::DropOldest)
            .build()
            .unwrap();
        producer
            .push(Record::new(Level::Info, "t", b"old"))
            .unwrap();
        let t = thread::spawn(move || {
            producer
                .push(Record::new(Level::Info, "t", b"new"))
                .unwrap();
            producer
        });
        let mut batch = Batch::new();
        consumer.drain(&mut batch, 1);
        let producer = t.join().unwrap();
        consumer.drain(&mut batch, 1);
        let got = messages(&batch);
        assert_eq!(got.last().map(Vec::as_slice), Some(&b"new"[..]));
        assert_eq!(got.len() as u64 + producer.stats().dropped, 2);
        DROPPED.mark(producer.stats().dropped == 1);
        READ_FIRST.mark(producer.stats().dropped == 0);
    });
    DROPPED.assert("where the producer took the oldest record");
    READ_FIRST.assert("where the consumer read the oldest record first");
}
