//! loom models of the single-flight handoff. Run with
//! `RUSTFLAGS="--cfg stanchion_loom" cargo test -p stanchion-cache --test loom --release`.
#![cfg(stanchion_loom)]

use std::panic::{AssertUnwindSafe, catch_unwind};

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;
use stanchion_cache::Cache;
use stanchion_core::sync::Reached;

fn cache() -> Cache<u8, u8> {
    Cache::builder().max_capacity(4).shards(1).build().unwrap()
}

/// Two callers missing one key: exactly one loads, both see its value.
#[test]
fn two_callers_share_one_load() {
    static WAITED: Reached = Reached::new();
    loom::model(|| {
        let cache = cache();
        let (started, finished) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let load = {
            let (started, finished) = (Arc::clone(&started), Arc::clone(&finished));
            move || {
                started.fetch_add(1, Ordering::SeqCst);
                finished.fetch_add(1, Ordering::SeqCst);
                10
            }
        };
        let racer = {
            let (cache, load) = (cache.clone(), load.clone());
            thread::spawn(move || cache.get_or_insert_with(1, load))
        };
        // The racer is mid-load: this caller must wait for its flight.
        let mid_load = started.load(Ordering::SeqCst) == 1 && finished.load(Ordering::SeqCst) == 0;
        let mine = cache.get_or_insert_with(1, load);
        WAITED.mark(mid_load);
        assert_eq!(mine, 10);
        assert_eq!(racer.join().unwrap(), 10);
        assert_eq!(started.load(Ordering::SeqCst), 1);
    });
    WAITED.assert("where a caller arrived while the other was loading");
}

/// A leader that panics wakes its waiter, which then loads itself; nobody hangs.
#[test]
fn a_panicking_leader_hands_over() {
    static HANDED_OVER: Reached = Reached::new();
    loom::model(|| {
        let cache = cache();
        let panicking = Arc::new(AtomicBool::new(false));
        let racer = {
            let (cache, panicking) = (cache.clone(), Arc::clone(&panicking));
            thread::spawn(move || {
                catch_unwind(AssertUnwindSafe(|| {
                    cache.get_or_insert_with(1, || {
                        panicking.store(true, Ordering::SeqCst);
                        panic!("loader")
                    })
                }))
                .ok()
            })
        };
        // The racer's loader has started: this caller waits for its flight, or finds it abandoned.
        let after_leader = panicking.load(Ordering::SeqCst);
        let mine = cache.get_or_insert_with(1, || 20);
        HANDED_OVER.mark(after_leader);
        let theirs = racer.join().unwrap();
        assert_eq!(mine, 20);
        assert!(theirs.is_none() || theirs == Some(20));
        assert_eq!(cache.get(&1), Some(20));
    });
    HANDED_OVER.assert("where a caller arrived after the leader's loader began");
}
