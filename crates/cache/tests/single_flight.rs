//! Single-flight loads with many threads and tasks: one load per missing key, errors shared and
//! not cached, panicking and cancelled loaders handing over.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use stanchion_cache::Cache;

#[test]
fn many_threads_missing_one_key_run_one_load() {
    for _ in 0..20 {
        let cache: Cache<u32, u64> = Cache::new(100);
        let loads = AtomicUsize::new(0);
        let threads = 8;
        let barrier = Barrier::new(threads);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    barrier.wait();
                    let value = cache.get_or_insert_with(7, || {
                        loads.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(2));
                        49
                    });
                    assert_eq!(value, 49);
                });
            }
        });
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }
}

#[test]
fn many_keys_each_loaded_once() {
    let cache: Cache<u32, u32> = Cache::new(10_000);
    let loads: Vec<AtomicUsize> = (0..64).map(|_| AtomicUsize::new(0)).collect();
    std::thread::scope(|scope| {
        for thread in 0..4u32 {
            let (cache, loads) = (&cache, &loads);
            scope.spawn(move || {
                for round in 0..2_000u32 {
                    let key = (round * 7 + thread) % 64;
                    let value = cache.get_or_insert_with(key, || {
                        loads[key as usize].fetch_add(1, Ordering::SeqCst);
                        key * 10
                    });
                    assert_eq!(value, key * 10);
                }
            });
        }
    });
    assert!(loads.iter().all(|count| count.load(Ordering::SeqCst) == 1));
}

#[test]
fn an_error_reaches_the_waiters_and_is_not_cached() {
    let cache: Cache<u32, u32> = Cache::new(10);
    let loads = AtomicUsize::new(0);
    let barrier = Barrier::new(4);
    let errors = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                barrier.wait();
                let result = cache.try_get_or_insert_with(1, || {
                    loads.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    Err::<u32, _>("backend down")
                });
                if let Err(error) = result {
                    assert_eq!(*error, "backend down");
                    errors.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    assert_eq!(errors.load(Ordering::SeqCst), 4);
    assert!(
        loads.load(Ordering::SeqCst) < 4,
        "waiters shared a failed load"
    );
    assert_eq!(cache.get(&1), None);
    assert_eq!(cache.try_get_or_insert_with(1, || Ok::<_, &str>(5)), Ok(5));
}

#[test]
fn a_panicking_loader_hands_over_to_a_waiter() {
    let cache: Cache<u32, u32> = Cache::new(10);
    let started = Barrier::new(2);
    std::thread::scope(|scope| {
        let leader = scope.spawn(|| {
            catch_unwind(AssertUnwindSafe(|| {
                cache.get_or_insert_with(1, || {
                    started.wait();
                    std::thread::sleep(Duration::from_millis(20));
                    panic!("loader failed");
                })
            }))
        });
        started.wait();
        assert_eq!(cache.get_or_insert_with(1, || 2), 2);
        assert!(leader.join().unwrap().is_err());
    });
    assert_eq!(cache.get(&1), Some(2));
}

#[test]
fn a_load_racing_an_invalidation_is_returned_but_not_stored() {
    let cache: Cache<String, u32> = Cache::new(10);
    let value = cache.get_or_insert_with("k".into(), || {
        cache.invalidate_prefix("k");
        1
    });
    assert_eq!(value, 1);
    assert_eq!(cache.get("k"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_callers_share_one_load() {
    let cache: Cache<u32, u32> = Cache::new(10);
    let loads = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (cache, loads) = (cache.clone(), Arc::clone(&loads));
            tokio::spawn(async move {
                cache
                    .get_or_insert_with_async(3, async {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        9
                    })
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 9);
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_cancelled_async_loader_hands_over() {
    let cache: Cache<u32, u32> = Cache::new(10);
    let stuck = cache.get_or_insert_with_async(1, std::future::pending());
    let timed_out = tokio::time::timeout(Duration::from_millis(10), stuck).await;
    assert!(timed_out.is_err());
    assert_eq!(cache.get_or_insert_with_async(1, async { 4 }).await, 4);
    let failed = cache
        .try_get_or_insert_with_async(2, async { Err::<u32, _>(7) })
        .await;
    assert_eq!(failed.map_err(|error| *error), Err(7));
}

#[tokio::test(flavor = "current_thread")]
async fn an_async_waiter_takes_over_from_a_cancelled_leader() {
    let cache: Cache<u32, u32> = Cache::new(10);
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let leader = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .get_or_insert_with_async(1, async {
                    let _ = released.await;
                    1
                })
                .await
        })
    };
    tokio::task::yield_now().await;
    let waiter = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get_or_insert_with_async(1, async { 2 }).await })
    };
    tokio::task::yield_now().await;
    leader.abort();
    drop(release);
    assert_eq!(waiter.await.unwrap(), 2);
}

#[test]
fn a_value_written_during_a_load_is_kept() {
    let cache: Cache<u32, u32> = Cache::new(10);
    let value = cache.get_or_insert_with(1, || {
        cache.insert(1, 2);
        1
    });
    assert_eq!(value, 1, "the caller gets what it loaded");
    assert_eq!(cache.get(&1), Some(2), "the newer write stays");
}

#[test]
fn an_invalidation_just_before_a_load_is_stored_wins() {
    use std::sync::mpsc::sync_channel;
    // The weigher runs between the load's end and its store: it holds the load there while
    // another thread invalidates the key.
    let (weighing, in_weigher) = sync_channel::<()>(1);
    let (invalidated, after_invalidate) = sync_channel::<()>(1);
    let after_invalidate = std::sync::Mutex::new(after_invalidate);
    let cache: Cache<u32, u32> = Cache::builder()
        .max_weight(100)
        .weigher(move |_, value: &u32| {
            if *value == 99 {
                weighing.send(()).unwrap();
                after_invalidate.lock().unwrap().recv().unwrap();
            }
            1
        })
        .shards(1)
        .build()
        .unwrap();
    let cache = &cache;
    std::thread::scope(|scope| {
        scope.spawn(move || {
            in_weigher.recv().unwrap();
            cache.invalidate(&7);
            invalidated.send(()).unwrap();
        });
        assert_eq!(cache.get_or_insert_with(7, || 99), 99);
    });
    assert_eq!(cache.get(&7), None);
}

#[test]
fn the_listener_may_load_the_key_whose_load_it_hears_of() {
    let cache: Arc<std::sync::OnceLock<Cache<u32, u32>>> = Arc::default();
    let handle = Arc::clone(&cache);
    let built = Cache::builder()
        .max_weight(100)
        .weigher(|_, value: &u32| *value)
        .shards(1)
        .eviction_listener(move |key, _, cause| {
            if cause == stanchion_cache::RemovalCause::Rejected {
                // Too heavy: load a lighter value instead.
                handle.get().unwrap().get_or_insert_with(key, || 1);
            }
        })
        .build()
        .unwrap();
    let cache = cache.get_or_init(|| built);
    let (done, finished) = std::sync::mpsc::channel();
    let loader = cache.clone();
    std::thread::spawn(move || {
        loader.get_or_insert_with(7, || 1_000);
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(Duration::from_secs(10))
        .expect("the listener's load waited on the load it was called from");
    assert_eq!(cache.get(&7), Some(1));
}

#[test]
fn a_waiter_that_loads_after_a_panic_counts_one_miss() {
    let cache: Cache<u32, u32> = Cache::new(10);
    let started = Barrier::new(2);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let _ = catch_unwind(AssertUnwindSafe(|| {
                cache.get_or_insert_with(1, || {
                    started.wait();
                    std::thread::sleep(Duration::from_millis(100));
                    panic!("the loader fails");
                })
            }));
        });
        started.wait();
        assert_eq!(cache.get_or_insert_with(1, || 5), 5);
    });
    assert_eq!(cache.stats().misses, 2, "two calls, one miss each");
}
