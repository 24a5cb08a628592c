//! Single-producer operation sequences against a `VecDeque` model, for each overflow policy; and
//! the line format against humantime's RFC 3339 formatting.

use std::collections::VecDeque;

use proptest::prelude::*;
use stanchion_ring::{Batch, Level, LineFormat, LogRing, Overflow, PushError, Record, Timestamp};

#[derive(Debug, Clone)]
enum Op {
    Push(u8, usize),
    TryPush(u8, usize),
    Drain(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (any::<u8>(), 0usize..20).prop_map(|(b, n)| Op::Push(b, n)),
        1 => (any::<u8>(), 0usize..20).prop_map(|(b, n)| Op::TryPush(b, n)),
        2 => (0usize..6).prop_map(Op::Drain),
    ]
}

fn message(byte: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| byte.wrapping_add(i as u8)).collect()
}

fn level(byte: u8) -> Level {
    [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
    ][byte as usize % 5]
}

fn run(capacity: usize, overflow: Overflow, ops: Vec<Op>) -> Result<(), TestCaseError> {
    // 8-byte slots, so messages of up to 19 bytes exercise the spill path too.
    let (producer, mut consumer) = LogRing::builder()
        .capacity(capacity)
        .slot_bytes(8)
        .overflow(overflow)
        .build()
        .unwrap();
    let mut model: VecDeque<(Level, Vec<u8>)> = VecDeque::new();
    let (mut pushed, mut dropped, mut spilled) = (0u64, 0u64, 0u64);
    let mut batch = Batch::new();
    for op in ops {
        match op {
            Op::Push(byte, len) | Op::TryPush(byte, len) => {
                let blocking = matches!(op, Op::Push(..));
                if blocking && overflow == Overflow::Block && model.len() == capacity {
                    continue; // would wait forever with no consumer running
                }
                let text = message(byte, len);
                let got = if blocking {
                    producer.push(Record::new(level(byte), "model", &text))
                } else {
                    producer.try_push(Record::new(level(byte), "model", &text))
                };
                let expected = if model.len() < capacity {
                    Ok(())
                } else {
                    match overflow {
                        Overflow::DropOldest => {
                            model.pop_front();
                            dropped += 1;
                            Ok(())
                        }
                        Overflow::DropNewest => {
                            dropped += 1;
                            Err(PushError::Full)
                        }
                        Overflow::Block => Err(PushError::Full),
                    }
                };
                if expected.is_ok() {
                    model.push_back((level(byte), text));
                    pushed += 1;
                    spilled += u64::from(len > 8);
                }
                prop_assert_eq!(got, expected);
            }
            Op::Drain(max) => {
                batch.clear();
                let n = consumer.drain(&mut batch, max);
                let expected: Vec<_> = model.drain(..max.min(model.len())).collect();
                prop_assert_eq!(n, expected.len());
                let got: Vec<_> = batch
                    .iter()
                    .map(|r| {
                        assert_eq!(r.target, "model");
                        (r.level, r.message.to_vec())
                    })
                    .collect();
                prop_assert_eq!(got, expected);
            }
        }
        let stats = producer.stats();
        prop_assert_eq!(stats.pushed, pushed);
        prop_assert_eq!(stats.dropped, dropped);
        prop_assert_eq!(stats.spilled, spilled);
        prop_assert_eq!(stats.len, model.len());
        prop_assert!(stats.high_watermark <= capacity);
    }
    Ok(())
}

fn case() -> impl Strategy<Value = (usize, Vec<Op>)> {
    (1usize..7, prop::collection::vec(op(), 0..150))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn drop_newest_matches_the_model((capacity, ops) in case()) {
        run(capacity, Overflow::DropNewest, ops)?;
    }

    #[test]
    fn drop_oldest_matches_the_model((capacity, ops) in case()) {
        run(capacity, Overflow::DropOldest, ops)?;
    }

    #[test]
    fn block_matches_the_model((capacity, ops) in case()) {
        run(capacity, Overflow::Block, ops)?;
    }
}

proptest! {
    /// Any time up to 2554 (where a `Timestamp` ends), in sequences that stay within a
    /// microsecond or a second, cross one, or jump: the cached date and microsecond digits are
    /// humantime's.
    #[test]
    fn a_line_starts_with_the_rfc3339_time_to_the_microsecond(
        times in proptest::collection::vec(
            prop_oneof![
                0u64..18_000_000_000_000_000_000,
                1_700_000_000_000_000_000u64..1_700_000_002_000_000_000,
                // A few microseconds either side of a second's end.
                1_700_000_000_999_997_000u64..1_700_000_001_000_003_000,
            ],
            1..20,
        )
    ) {
        let mut format = LineFormat::new();
        for nanos in times {
            let mut line = Vec::new();
            let record = Record {
                timestamp: Timestamp::from_unix_nanos(nanos),
                ..Record::new(Level::Info, "t", b"m")
            };
            format.write(&mut line, &record).unwrap();
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(nanos);
            let expected = format!("{}  INFO t: m\n", humantime::format_rfc3339_micros(at));
            prop_assert_eq!(String::from_utf8(line).unwrap(), expected);
        }
    }
}
