//! The cache against a `HashMap` model: whatever the cache returns was inserted, not removed and
//! not expired; when nothing had to be evicted it returns exactly what the model holds; it never
//! holds more than its capacity.

use std::collections::HashMap;
use std::time::Duration;

use proptest::prelude::*;
use stanchion_cache::Cache;
use stanchion_core::ManualClock;

#[derive(Debug, Clone)]
enum Op {
    Insert(u8, u16),
    InsertWithTtl(u8, u16, u8),
    Get(u8),
    Contains(u8),
    Remove(u8),
    InvalidateOdd,
    Clear,
    Advance(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..40u8, any::<u16>()).prop_map(|(k, v)| Op::Insert(k, v)),
        2 => (0..40u8, any::<u16>(), 1..20u8).prop_map(|(k, v, t)| Op::InsertWithTtl(k, v, t)),
        6 => (0..40u8).prop_map(Op::Get),
        1 => (0..40u8).prop_map(Op::Contains),
        1 => (0..40u8).prop_map(Op::Remove),
        1 => Just(Op::InvalidateOdd),
        1 => Just(Op::Clear),
        2 => (1..10u8).prop_map(Op::Advance),
    ]
}

/// Value and deadline (seconds on the model's clock) of each key the model holds.
type Model = HashMap<u8, (u16, Option<u64>)>;

fn live(model: &Model, key: u8, now: u64) -> Option<u16> {
    model
        .get(&key)
        .filter(|(_, deadline)| deadline.is_none_or(|deadline| now < deadline))
        .map(|(value, _)| *value)
}

fn check(
    ops: Vec<Op>,
    capacity: u64,
    shards: usize,
    ttl: Option<u64>,
) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let mut builder = Cache::builder()
        .max_capacity(capacity)
        .shards(shards)
        .clock(clock.clone());
    if let Some(ttl) = ttl {
        builder = builder.time_to_live(Duration::from_secs(ttl));
    }
    let cache: Cache<u8, u16> = builder.build().unwrap();
    let exact = capacity >= 40 * shards as u64;
    let mut model = Model::new();
    let mut now = 0u64;
    for op in ops {
        match op {
            Op::Insert(key, value) => {
                cache.insert(key, value);
                model.insert(key, (value, ttl.map(|ttl| now + ttl)));
            }
            Op::InsertWithTtl(key, value, ttl) => {
                cache.insert_with_ttl(key, value, Duration::from_secs(ttl.into()));
                model.insert(key, (value, Some(now + u64::from(ttl))));
            }
            Op::Get(key) => {
                let got = cache.get(&key);
                let expected = live(&model, key, now);
                if exact {
                    prop_assert_eq!(got, expected, "get {}", key);
                } else if got.is_some() {
                    prop_assert_eq!(got, expected, "get {} returned what the model lacks", key);
                }
            }
            Op::Contains(key) => {
                let held = cache.contains_key(&key);
                prop_assert!(
                    !held || live(&model, key, now).is_some(),
                    "contains {}",
                    key
                );
                if exact {
                    prop_assert_eq!(held, live(&model, key, now).is_some());
                }
            }
            Op::Remove(key) => {
                let removed = cache.remove(&key);
                let expected = live(&model, key, now);
                if exact || removed.is_some() {
                    prop_assert_eq!(removed, expected, "remove {}", key);
                }
                model.remove(&key);
            }
            Op::InvalidateOdd => {
                cache.invalidate_if(|key, _| key % 2 == 1);
                model.retain(|key, _| key % 2 == 0);
            }
            Op::Clear => {
                cache.clear();
                model.clear();
            }
            Op::Advance(seconds) => {
                clock.advance(Duration::from_secs(seconds.into()));
                now += u64::from(seconds);
            }
        }
        prop_assert!(
            cache.len() as u64 <= capacity,
            "{} entries over {}",
            cache.len(),
            capacity
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn evicting_cache_returns_only_what_the_model_holds(
        ops in prop::collection::vec(op(), 1..300),
        capacity in 1..16u64,
        ttl in prop::option::of(1..30u64),
    ) {
        check(ops, capacity, 1, ttl)?;
    }

    #[test]
    fn sharded_evicting_cache_returns_only_what_the_model_holds(
        ops in prop::collection::vec(op(), 1..300),
        capacity in 4..32u64,
    ) {
        check(ops, capacity, 4, None)?;
    }

    #[test]
    fn a_cache_that_need_not_evict_matches_the_model(
        ops in prop::collection::vec(op(), 1..300),
        shards in prop::sample::select(vec![1usize, 2, 4]),
        ttl in prop::option::of(1..30u64),
    ) {
        check(ops, 40 * shards as u64, shards, ttl)?;
    }
}
