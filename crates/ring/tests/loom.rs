//! loom models of the ring's protocol; run by `cargo xtask ci` as
//! `RUSTFLAGS="--cfg stanchion_loom" cargo test --release -p stanchion-ring --test loom`.
#![cfg(stanchion_loom)]

use loom::thread;
use stanchion_core::sync::Reached;
use stanchion_ring::{Batch, Level, LogRing, Overflow, Record, Timestamp};

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

fn stamped(nanos: u64, message: &[u8]) -> Record<'_> {
    Record {
        level: Level::Info,
        target: "t",
        timestamp: Timestamp::from_unix_nanos(nanos),
        message,
    }
}

/// Two lanes: each producer writes its own while the consumer chooses between them by timestamp,
/// reading a lane's next timestamp before it claims the slot. Each record is read once, whole.
#[test]
fn the_consumer_chooses_between_lanes_as_they_are_written() {
    static EARLIER_FIRST: Reached = Reached::new();
    loom::model(|| {
        let (producer, mut consumer) = LogRing::builder()
            .capacity(1)
            .slot_bytes(4)
            .lanes(2)
            .build()
            .unwrap();
        let other = producer.clone();
        // The other lane's record is the earlier one.
        let t = thread::spawn(move || other.push(stamped(1, b"bb")).is_ok());
        producer.push(stamped(2, b"aa")).unwrap();
        // The lanes share no atomic, so only a yield lets loom run the other producer first.
        thread::yield_now();
        let mut batch = Batch::new();
        consumer.drain(&mut batch, 2);
        EARLIER_FIRST.mark(messages(&batch).first().map(Vec::as_slice) == Some(&b"bb"[..]));
        assert!(t.join().unwrap(), "each lane has room for its record");
        consumer.drain(&mut batch, 2);
        let mut got = messages(&batch);
        got.sort();
        assert_eq!(got, vec![b"aa".to_vec(), b"bb".to_vec()]);
    });
    EARLIER_FIRST.assert("took the other lane's earlier record first");
}

/// Under DropOldest the consumer reads a lane's next timestamp while that lane's producer drops
/// the record and writes a new one into its slot: no torn or doubled record, every one read or
/// counted dropped.
#[test]
fn choosing_a_lane_races_a_drop_oldest_producer() {
    static DROPPED: Reached = Reached::new();
    loom::model(|| {
        let (producer, mut consumer) = LogRing::builder()
            .capacity(1)
            .slot_bytes(4)
            .lanes(2)
            .overflow(Overflow::DropOldest)
            .build()
            .unwrap();
        let other = producer.clone();
        other.push(stamped(1, b"old")).unwrap();
        let t = thread::spawn(move || {
            other.push(stamped(3, b"new")).unwrap();
            other
        });
        producer.push(stamped(2, b"mid")).unwrap();
        let mut batch = Batch::new();
        consumer.drain(&mut batch, 3);
        let other = t.join().unwrap();
        consumer.drain(&mut batch, 3);
        let got = messages(&batch);
        let dropped = other.stats().dropped;
        assert_eq!(got.len() as u64 + dropped, 3);
        assert!(got.contains(&b"new".to_vec()) && got.contains(&b"mid".to_vec()));
        DROPPED.mark(dropped == 1);
    });
    DROPPED.assert("where the producer dropped the record the consumer was choosing");
}
