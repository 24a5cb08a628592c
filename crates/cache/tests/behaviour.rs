//! Expiry with a manual clock, the listener's causes, weights and configuration errors.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use stanchion_cache::{Cache, CacheStats, ConfigError, InsertError, RemovalCause};
use stanchion_core::ManualClock;

type Log = Arc<Mutex<Vec<(String, u32, RemovalCause)>>>;

fn logged(builder: stanchion_cache::CacheBuilder<String, u32>) -> (Cache<String, u32>, Log) {
    let log: Log = Arc::default();
    let sink = Arc::clone(&log);
    let cache = builder
        .eviction_listener(move |key, value, cause| sink.lock().unwrap().push((key, value, cause)))
        .build()
        .unwrap();
    (cache, log)
}

fn causes(log: &Log) -> Vec<(String, u32, RemovalCause)> {
    std::mem::take(&mut *log.lock().unwrap())
}

#[test]
fn time_to_live_expires_entries_exactly_at_the_deadline() {
    let clock = ManualClock::new();
    let (cache, log) = logged(
        Cache::builder()
            .max_capacity(100)
            .time_to_live(Duration::from_secs(10))
            .clock(clock.clone()),
    );
    cache.insert("a".into(), 1);
    clock.advance(Duration::from_secs(9));
    cache.insert("b".into(), 2);
    assert_eq!(
        cache.get("a"),
        Some(1),
        "reads do not extend a time to live"
    );
    clock.advance(Duration::from_secs(1));
    assert!(!cache.contains_key("a"));
    assert_eq!(cache.get("a"), None);
    assert_eq!(cache.get("b"), Some(2));
    assert_eq!(causes(&log), [("a".into(), 1, RemovalCause::Expired)]);
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.expirations), (2, 1, 1));
}

#[test]
fn per_entry_ttl_overrides_the_cache_ttl() {
    let clock = ManualClock::new();
    let cache: Cache<&str, u32> = Cache::builder()
        .max_capacity(10)
        .time_to_live(Duration::from_secs(60))
        .clock(clock.clone())
        .build()
        .unwrap();
    cache.insert_with_ttl("short", 1, Duration::from_secs(1));
    cache.insert("long", 2);
    clock.advance(Duration::from_secs(2));
    assert_eq!(cache.get("short"), None);
    assert_eq!(cache.get("long"), Some(2));
    clock.advance(Duration::from_secs(58));
    assert_eq!(cache.get("long"), None);
}

#[test]
fn time_to_idle_is_extended_by_reads_and_writes_only() {
    let clock = ManualClock::new();
    let cache: Cache<&str, u32> = Cache::builder()
        .max_capacity(10)
        .time_to_idle(Duration::from_secs(5))
        .clock(clock.clone())
        .build()
        .unwrap();
    cache.insert("read", 1);
    cache.insert("idle", 2);
    for _ in 0..3 {
        clock.advance(Duration::from_secs(4));
        assert_eq!(cache.get("read"), Some(1));
        assert!(cache.contains_key("read"), "contains_key sees it");
    }
    assert_eq!(cache.get("idle"), None, "12 s idle with a 5 s limit");
    clock.advance(Duration::from_secs(5));
    assert!(
        !cache.contains_key("read"),
        "contains_key does not extend idle time"
    );
}

/// The system clock's expiry readings (time-stamp counter marks) move forward: an entry given a
/// nanosecond is gone by the next read, one given an hour is not. No sleeping needed.
#[test]
fn the_system_clock_expires_entries() {
    let cache: Cache<&str, u32> = Cache::builder()
        .max_capacity(10)
        .time_to_live(Duration::from_secs(3600))
        .build()
        .unwrap();
    cache.insert("kept", 1);
    cache.insert_with_ttl("gone", 2, Duration::from_nanos(1));
    assert_eq!(cache.get("kept"), Some(1));
    assert_eq!(cache.get("gone"), None);
    assert_eq!(cache.stats().expirations, 1);
}

#[test]
fn expired_entries_are_evicted_first_and_reported_as_expired() {
    let clock = ManualClock::new();
    let (cache, log) = logged(
        Cache::builder()
            .max_capacity(2)
            .shards(1)
            .clock(clock.clone()),
    );
    cache.insert_with_ttl("soon".into(), 1, Duration::from_secs(1));
    cache.insert("kept".into(), 2);
    clock.advance(Duration::from_secs(1));
    cache.insert("new".into(), 3);
    assert_eq!(causes(&log), [("soon".into(), 1, RemovalCause::Expired)]);
    assert_eq!(cache.len(), 2);
}

#[test]
fn the_listener_hears_every_cause() {
    let (cache, log) = logged(Cache::builder().max_capacity(2).shards(1));
    cache.insert("a".into(), 1);
    cache.insert("a".into(), 2);
    assert_eq!(causes(&log), [("a".into(), 1, RemovalCause::Replaced)]);
    assert_eq!(cache.remove("a"), Some(2));
    assert_eq!(causes(&log), [("a".into(), 2, RemovalCause::Invalidated)]);
    for (index, key) in ["x", "y", "z"].into_iter().enumerate() {
        cache.insert(key.into(), index as u32);
    }
    assert_eq!(causes(&log), [("x".into(), 0, RemovalCause::Size)]);
    cache.clear();
    let mut cleared = causes(&log);
    cleared.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        cleared,
        [
            ("y".into(), 1, RemovalCause::Invalidated),
            ("z".into(), 2, RemovalCause::Invalidated)
        ]
    );
    assert!(cache.is_empty());
}

#[test]
fn invalidation_by_key_prefix_and_predicate() {
    let cache = Cache::new(100);
    for (key, value) in [
        ("hook:a:1", 1),
        ("hook:a:2", 2),
        ("hook:b:1", 3),
        ("job:1", 4),
    ] {
        cache.insert(key.to_string(), value);
    }
    cache.invalidate("job:1");
    cache.invalidate_prefix("hook:a:");
    assert_eq!(cache.len(), 1);
    cache.insert("job:2".into(), 20);
    cache.invalidate_if(|_, value| *value > 10);
    assert_eq!(cache.get("hook:b:1"), Some(3));
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.stats().invalidations, 4);
}

#[test]
fn weight_bounds_the_cache_and_heavy_entries_come_back() {
    let (cache, log) = logged(
        Cache::builder()
            .max_weight(100)
            .weigher(|_: &String, value: &u32| *value)
            .shards(2),
    );
    let refused = cache.try_insert("heavy".into(), 101).unwrap_err();
    assert!(matches!(
        refused,
        InsertError::TooHeavy {
            weight: 101,
            limit: 100,
            ..
        }
    ));
    assert_eq!(refused.into_inner(), ("heavy".to_string(), 101));
    cache.insert("also heavy".into(), 160);
    assert_eq!(
        causes(&log),
        [("also heavy".into(), 160, RemovalCause::Rejected)]
    );
    for index in 0..40 {
        cache.insert(format!("k{index}"), 10);
        assert!(
            cache.weight() <= 100,
            "weight {} after {index}",
            cache.weight()
        );
    }
    assert_eq!(cache.stats().rejections, 2);
}

/// A cache of weight 1,000 in eight shards of 125, each entry weighing its value.
fn weighed_by_value_in_eight_shards() -> Cache<u32, u32> {
    Cache::builder()
        .max_weight(1_000)
        .weigher(|_, value: &u32| *value)
        .shards(8)
        .build()
        .unwrap()
}

/// The limit on one entry is the cache's, not a shard's: with eight shards of 125 each, entries
/// of 126 to 1,000 fit, evicting across the shards, and the total stays within `max_weight`.
/// Once the heavy entries leave, the shards that lent get their capacity back and the cache
/// fills to `max_weight` again.
#[test]
fn an_entry_may_weigh_up_to_the_whole_cache_whatever_the_shards() {
    let cache = weighed_by_value_in_eight_shards();
    let fill = |cache: &Cache<u32, u32>, from: u32| {
        for key in from..from + 2_000 {
            cache.insert(key, 1);
        }
    };
    fill(&cache, 0);
    assert_eq!(cache.weight(), 1_000, "every shard full");
    for (key, weight) in [(10_000, 126), (10_001, 600), (10_002, 1_000)] {
        assert!(cache.try_insert(key, weight).is_ok(), "{weight} refused");
        assert_eq!(cache.get(&key), Some(weight), "{weight} not stored");
        assert!(cache.weight() <= 1_000, "weight {}", cache.weight());
    }
    assert_eq!(cache.len(), 1, "the whole cache made room for the last");
    cache.remove(&10_002);
    fill(&cache, 20_000);
    assert_eq!(
        cache.weight(),
        1_000,
        "the capacity lent came back to the shards that lent it"
    );
    assert_eq!(cache.stats().rejections, 0);
}

/// Threads inserting light and heavy entries at once, each heavy one gathering capacity from
/// every shard while the others insert: nothing up to `max_weight` is refused, nothing
/// deadlocks, and the total ends within `max_weight`. (`weight()` reads the shards one by one,
/// so while capacity moves between them only its final reading is a bound.)
#[test]
fn heavy_and_light_inserts_race_within_the_weight() {
    let cache = weighed_by_value_in_eight_shards();
    std::thread::scope(|s| {
        for thread in 0..4u32 {
            let cache = &cache;
            s.spawn(move || {
                for i in 0..2_000u32 {
                    let key = thread * 100_000 + i;
                    let weight = if i % 50 == 0 {
                        200 + 200 * thread
                    } else {
                        1 + i % 7
                    };
                    assert!(cache.try_insert(key, weight).is_ok(), "{weight} refused");
                    if i % 10 == 5 {
                        cache.remove(&(key - 5));
                    }
                }
            });
        }
    });
    assert!(cache.weight() <= 1_000, "weight {}", cache.weight());
    assert_eq!(cache.stats().rejections, 0);
}

#[test]
fn configuration_errors_name_the_setting() {
    fn field(result: Result<Cache<u32, u32>, ConfigError>) -> &'static str {
        result.unwrap_err().field
    }
    let builder = Cache::<u32, u32>::builder;
    assert_eq!(field(builder().build()), "max_capacity");
    assert_eq!(field(builder().max_capacity(0).build()), "max_capacity");
    assert_eq!(field(builder().max_weight(10).build()), "weigher");
    assert_eq!(
        field(builder().max_capacity(10).weigher(|_, _| 1).build()),
        "weigher"
    );
    assert_eq!(
        field(builder().max_capacity(10).max_weight(10).build()),
        "max_weight"
    );
    assert_eq!(
        field(
            builder()
                .max_capacity(10)
                .time_to_live(Duration::ZERO)
                .build()
        ),
        "time_to_live"
    );
    assert_eq!(
        field(
            builder()
                .max_capacity(10)
                .time_to_idle(Duration::ZERO)
                .build()
        ),
        "time_to_idle"
    );
    assert_eq!(
        field(builder().max_capacity(10).shards(3).build()),
        "shards"
    );
    assert_eq!(field(builder().max_capacity(2).shards(4).build()), "shards");
    let message = builder().max_capacity(0).build().unwrap_err().to_string();
    assert_eq!(
        message,
        "invalid cache configuration: max_capacity is 0, expected at least 1"
    );
}

#[test]
fn the_listener_may_use_the_cache() {
    let cache: Arc<Mutex<Option<Cache<u32, u32>>>> = Arc::default();
    let inner = Arc::clone(&cache);
    let built = Cache::builder()
        .max_capacity(1)
        .eviction_listener(move |key, _, _| {
            if let Some(cache) = &*inner.lock().unwrap() {
                assert!(!cache.contains_key(&key));
            }
        })
        .build()
        .unwrap();
    *cache.lock().unwrap() = Some(built.clone());
    built.insert(1, 1);
    built.insert(2, 2);
    assert_eq!(built.stats().evictions, 1);
}

#[test]
fn stats_add_up() {
    let cache = Cache::new(10);
    assert_eq!(cache.stats(), CacheStats::default());
    assert_eq!(cache.stats().hit_ratio(), 0.0);
    cache.insert(1, 1);
    cache.get(&1);
    cache.get(&1);
    cache.get(&1);
    cache.get(&2);
    assert_eq!(cache.stats().hit_ratio(), 0.75);
    assert_eq!(cache.stats().inserts, 1);
}

#[test]
fn public_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Cache<String, Vec<u8>>>();
    assert_send_sync::<stanchion_cache::CacheBuilder<String, Vec<u8>>>();
    assert_send_sync::<ConfigError>();
}

#[test]
fn entries_read_again_survive_a_scan_of_one_time_keys() {
    let cache = Cache::builder()
        .max_capacity(100)
        .shards(1)
        .build()
        .unwrap();
    for key in 0..50u32 {
        cache.insert(key, key);
        cache.get(&key);
    }
    for key in 1_000..11_000u32 {
        cache.insert(key, key);
        for hot in 0..50u32 {
            if key % 50 == hot {
                assert_eq!(
                    cache.get(&hot),
                    Some(hot),
                    "hot key {hot} evicted by the scan at {key}"
                );
            }
        }
    }
    assert_eq!(cache.len(), 100);
}

/// A cache weighing entries by their value, in one shard.
fn weighed(max_weight: u64) -> (Cache<String, u32>, Log) {
    logged(
        Cache::builder()
            .max_weight(max_weight)
            .weigher(|_: &String, value: &u32| *value)
            .shards(1),
    )
}

#[test]
fn a_key_let_back_in_by_the_ghost_is_not_what_makes_room() {
    let cache: Cache<u32, u32> = Cache::new(1);
    cache.insert(1, 1);
    cache.insert(2, 2);
    cache.insert(1, 10);
    assert_eq!(cache.get(&1), Some(10));
    // An entry as heavy as the whole cache, back from the ghost.
    let (cache, _) = logged(
        Cache::builder()
            .max_weight(10)
            .weigher(|_: &String, _: &u32| 10)
            .shards(1),
    );
    cache.insert("a".into(), 1);
    cache.insert("b".into(), 2);
    cache.insert("a".into(), 3);
    assert_eq!(cache.get("a"), Some(3));
}

#[test]
fn a_heavier_replacement_makes_room_from_the_other_entries() {
    let (cache, log) = weighed(10);
    cache.insert("a".into(), 1);
    cache.insert("b".into(), 2);
    cache.insert("c".into(), 3);
    causes(&log);
    cache.insert("a".into(), 8);
    assert_eq!(cache.get("a"), Some(8), "the value just written left");
    assert!(cache.weight() <= 10);
    let log = causes(&log);
    assert!(
        log.contains(&("a".into(), 1, RemovalCause::Replaced)),
        "{log:?}"
    );
    assert!(
        log.iter()
            .all(|(key, _, cause)| key != "a" || *cause == RemovalCause::Replaced)
    );
    // A lighter one stays where it is, and frees its difference.
    cache.insert("a".into(), 2);
    assert_eq!(cache.get("a"), Some(2));
    let others: u32 = ["b", "c"].iter().filter_map(|key| cache.get(*key)).sum();
    assert_eq!(cache.weight(), u64::from(2 + others));
}

#[test]
fn a_rejected_replacement_does_not_leave_the_old_value_served() {
    let (cache, log) = weighed(100);
    cache.insert("a".into(), 5);
    cache.insert("a".into(), 500);
    assert_eq!(cache.get("a"), None);
    assert_eq!(
        causes(&log),
        [
            ("a".into(), 5, RemovalCause::Replaced),
            ("a".into(), 500, RemovalCause::Rejected)
        ]
    );
    cache.insert("b".into(), 5);
    assert!(cache.try_insert("b".into(), 500).is_err());
    assert_eq!(cache.get("b"), None);
    assert_eq!(cache.weight(), 0);
}

#[test]
fn a_small_max_weight_takes_fewer_shards_by_default() {
    let cache: Cache<u32, u32> = Cache::builder()
        .max_weight(4)
        .weigher(|_, _| 1)
        .build()
        .unwrap();
    for key in 0..4 {
        assert!(cache.try_insert(key, key).is_ok());
    }
    assert_eq!(cache.len(), 4);
}

#[test]
fn the_largest_capacities_build() {
    let cache: Cache<u32, u32> = Cache::new(u64::MAX);
    cache.insert(1, 1);
    assert_eq!(cache.get(&1), Some(1));
    let cache: Cache<u32, u32> = Cache::builder()
        .max_weight(u64::MAX)
        .weigher(|_, _| u32::MAX)
        .build()
        .unwrap();
    cache.insert(1, 1);
    assert_eq!(cache.get(&1), Some(1));
}

#[test]
fn a_panicking_predicate_leaves_the_shard_whole() {
    let (cache, log) = weighed(10);
    cache.insert("a".into(), 5);
    cache.insert("b".into(), 5);
    causes(&log);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut seen = 0;
        cache.invalidate_if(|_, _| {
            seen += 1;
            assert!(seen < 2, "the predicate panics on its second entry");
            true
        });
    }));
    assert!(panicked.is_err());
    assert_eq!((cache.len(), cache.weight()), (2, 10));
    assert!(causes(&log).is_empty());
    // The weight is all there to make room with.
    cache.insert("c".into(), 6);
    assert_eq!(cache.get("c"), Some(6));
    assert!(cache.weight() <= 10);
}
