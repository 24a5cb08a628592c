//! Single-threaded sequences against a model: a binary heap keyed by (level, sequence number).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use proptest::prelude::*;
use stanchion_queue::{Priority, PriorityQueue, PushError};

#[derive(Debug, Clone)]
enum Op {
    Push(u8),
    PushBatch(u8, usize),
    Pop,
    PopBatch(usize),
    Close,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(
        prop_oneof![
            4 => (0u8..4).prop_map(Op::Push),
            1 => (0u8..4, 0usize..6).prop_map(|(l, n)| Op::PushBatch(l, n)),
            3 => Just(Op::Pop),
            1 => (0usize..6).prop_map(Op::PopBatch),
            1 => Just(Op::Close),
        ],
        1..100,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn strict_queue_matches_a_heap(ops in ops(), capacity in prop::option::of(1usize..8)) {
        let queue = PriorityQueue::builder().capacity(capacity).build().unwrap();
        let mut model: BinaryHeap<Reverse<(u8, u64)>> = BinaryHeap::new();
        let mut closed = false;
        let mut next = 0u64;
        // The capacity bounds each level on its own.
        let room = |model: &BinaryHeap<Reverse<(u8, u64)>>, level: u8| {
            capacity.map_or(usize::MAX, |c| c - model.iter().filter(|Reverse((l, _))| *l == level).count())
        };
        for op in ops {
            match op {
                Op::Push(level) => {
                    let result = queue.try_push(next, Priority::Level(level));
                    let expected = if level >= 3 { "level" } else if closed { "closed" } else if room(&model, level) == 0 { "full" } else { "ok" };
                    let got = match &result {
                        Ok(()) => "ok",
                        Err(PushError::Full(item)) | Err(PushError::Closed(item)) | Err(PushError::NoSuchLevel { item, .. }) if *item != next => "wrong item back",
                        Err(PushError::Full(_)) => "full",
                        Err(PushError::Closed(_)) => "closed",
                        Err(PushError::NoSuchLevel { .. }) => "level",
                        Err(_) => "other",
                    };
                    prop_assert_eq!(got, expected);
                    if got == "ok" {
                        model.push(Reverse((level, next)));
                    }
                    next += 1;
                }
                Op::PushBatch(level, n) => {
                    let mut items: Vec<u64> = (next..next + n as u64).collect();
                    let result = queue.try_push_batch(&mut items, Priority::Level(level));
                    // An empty batch has nothing refused; otherwise a closed queue and a missing
                    // level are errors, never a count of zero.
                    let expected = if level >= 3 {
                        Err(PushError::NoSuchLevel { item: (), level })
                    } else if n == 0 {
                        Ok(0)
                    } else if closed {
                        Err(PushError::Closed(()))
                    } else {
                        Ok(n.min(room(&model, level)))
                    };
                    prop_assert_eq!(&result, &expected);
                    let pushed = result.unwrap_or(0);
                    let left: Vec<u64> = (next + pushed as u64..next + n as u64).collect();
                    prop_assert_eq!(items, left, "what was not pushed is handed back, in order");
                    for item in next..next + pushed as u64 {
                        model.push(Reverse((level, item)));
                    }
                    next += n as u64;
                }
                Op::Pop => {
                    let expected = model.pop().map(|Reverse((level, item))| (item, Priority::Level(level)));
                    prop_assert_eq!(queue.try_pop(), expected);
                }
                Op::PopBatch(max) => {
                    let mut out = Vec::new();
                    let taken = queue.pop_batch(&mut out, max);
                    let expected: Vec<u64> = (0..max).map_while(|_| model.pop().map(|Reverse((_, item))| item)).collect();
                    prop_assert_eq!(taken, expected.len());
                    prop_assert_eq!(out, expected);
                }
                Op::Close => {
                    queue.close();
                    closed = true;
                }
            }
            prop_assert_eq!(queue.len(), model.len());
            for level in 0..3u8 {
                prop_assert_eq!(queue.len_of(Priority::Level(level)), model.iter().filter(|Reverse((l, _))| *l == level).count());
            }
        }
        let stats = queue.stats();
        let pushed: u64 = stats.levels.iter().map(|l| l.pushed).sum();
        let popped: u64 = stats.levels.iter().map(|l| l.popped).sum();
        prop_assert_eq!(pushed - popped, model.len() as u64);
    }
}
