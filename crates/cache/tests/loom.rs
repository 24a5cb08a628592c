//! loom models of the single-flight handoff. Run with
//! `RUSTFLAGS="--cfg stanchion_loom" cargo test -p stanchion-cache --test loom --release`.
#![cfg(stanchion_loom)]

use std::panic::{AssertUnwindSafe, catch_unwind};

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use stanchion_cache::Cache;

fn cache() -> Cache<u8, u8> {
    Cache::builder().max_capacity(4).shards(1).build().unwrap()
}

/// Two callers missing one key: exactly one loads, both see its value.
#[test]
fn two_callers_share_one_load() {
    loom::model(|| {
        let cache = cache();
        let loads = Arc::new(AtomicUsize::new(0));
        let racer = {
            let (cache, loads) = (cache.clone(), Arc::clone(&loads));
            thread::spawn(move || {
                cache.get_or_insert_with(1, || {
                    loads.fetch_add(1, Ordering::SeqCst);
                    10
                })
            })
        };
        let mine = cache.get_or_insert_with(1, || {
            loads.fetch_add(1, Ordering::SeqCst);
            10
        });
        assert_eq!(mine, 10);
        assert_eq!(racer.join().unwrap(), 10);
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    });
}

/// A leader that panics wakes its waiter, which then loads itself; nobody hangs.
#[test]
fn a_panicking_leader_hands_over() {
    loom::model(|| {
        let cache = cache();
        let racer = {
            let cache = cache.clone();
            thread::spawn(move || {
                catch_unwind(AssertUnwindSafe(|| {
                    cache.get_or_insert_with(1, || panic!("loader"))
                }))
                .ok()
            })
        };
        let mine = cache.get_or_insert_with(1, || 20);
        let theirs = racer.join().unwrap();
        assert_eq!(mine, 20);
        assert!(theirs.is_none() || theirs == Some(20));
        assert_eq!(cache.get(&1), Some(20));
    });
}
