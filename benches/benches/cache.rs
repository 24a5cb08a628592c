//! stanchion-cache against moka (sync), quick_cache and mini-moka: operations per second.
//!
//! Zipf(1.0) keys over 1M, capacity 100k, 90% `get` / 10% `insert`, on 1 and 2 threads, and
//! inserts alone on 1 thread (a read-through cache whose reads miss, as on the P3 trace). Ours runs
//! with a one-hour time to live, so every read checks expiry, and again without one, like the
//! peers. Each thread has a stream of 2M keys, about 340,000 distinct; each measured iteration
//! takes the stream's next 100,000 operations. Each cache is warmed with one pass of the whole
//! stream before it is measured. What each row exercises, counted with ours' stats:
//! - the mix on one thread inserts only every tenth key, about 65,000 distinct, so the cache never
//!   fills: reads (seven in ten hit) and replacements, no eviction;
//! - the mix on two threads fills it, and evicts on about one operation in 300;
//! - inserts alone evict on about one insert in four, the others replacing a value.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use stanchion_benches::{OURS, zipf_keys};

const CAPACITY: u64 = 100_000;
const UNIVERSE: u64 = 1_000_000;
/// Operations per thread per measured iteration.
const OPS: usize = 100_000;
/// Keys in each thread's stream. Far more distinct keys than the capacity: a stream of only
/// `OPS` keys holds about 37,000 distinct ones, which all fit, so repeating it measured a cache
/// that never evicted and whose every read hit.
const STREAM: usize = 20 * OPS;
/// Ours configured like the peers, without a time to live: the difference from [`OURS`] is what
/// checking expiry on every read costs.
const OURS_WITHOUT_EXPIRY: &str = "stanchion-no-ttl";

trait Subject: Send + Sync + 'static {
    fn get(&self, key: u64) -> Option<u64>;
    fn insert(&self, key: u64, value: u64);
}

impl Subject for stanchion_cache::Cache<u64, u64> {
    fn get(&self, key: u64) -> Option<u64> {
        stanchion_cache::Cache::get(self, &key)
    }
    fn insert(&self, key: u64, value: u64) {
        stanchion_cache::Cache::insert(self, key, value);
    }
}

impl Subject for moka::sync::Cache<u64, u64> {
    fn get(&self, key: u64) -> Option<u64> {
        moka::sync::Cache::get(self, &key)
    }
    fn insert(&self, key: u64, value: u64) {
        moka::sync::Cache::insert(self, key, value);
    }
}

impl Subject for quick_cache::sync::Cache<u64, u64> {
    fn get(&self, key: u64) -> Option<u64> {
        quick_cache::sync::Cache::get(self, &key)
    }
    fn insert(&self, key: u64, value: u64) {
        quick_cache::sync::Cache::insert(self, key, value);
    }
}

impl Subject for mini_moka::sync::Cache<u64, u64> {
    fn get(&self, key: u64) -> Option<u64> {
        mini_moka::sync::Cache::get(self, &key)
    }
    fn insert(&self, key: u64, value: u64) {
        mini_moka::sync::Cache::insert(self, key, value);
    }
}

fn subjects() -> Vec<(&'static str, Arc<dyn Subject>)> {
    let ours = stanchion_cache::Cache::builder()
        .max_capacity(CAPACITY)
        .time_to_live(Duration::from_secs(3600))
        .build()
        .expect("valid cache configuration");
    vec![
        (OURS, Arc::new(ours)),
        (
            OURS_WITHOUT_EXPIRY,
            Arc::new(stanchion_cache::Cache::new(CAPACITY)),
        ),
        ("moka", Arc::new(moka::sync::Cache::new(CAPACITY))),
        (
            "quick_cache",
            Arc::new(quick_cache::sync::Cache::new(CAPACITY as usize)),
        ),
        ("mini-moka", Arc::new(mini_moka::sync::Cache::new(CAPACITY))),
    ]
}

/// One thread's share: every `insert_every`th operation inserts, the rest read.
fn run(cache: &dyn Subject, keys: &[u64], insert_every: usize) {
    for (index, &key) in keys.iter().enumerate() {
        if index % insert_every == 0 {
            cache.insert(key, key);
        } else {
            black_box(cache.get(key));
        }
    }
}

fn zipf_mix(c: &mut Criterion) {
    zipf(c, "cache/zipf1.0-90get", &[1, 2], 10);
}

fn zipf_inserts(c: &mut Criterion) {
    zipf(c, "cache/zipf1.0-insert", &[1], 1);
}

/// Every subject running `threads` threads of the workload that inserts every `insert_every`th
/// operation and reads in the others.
fn zipf(c: &mut Criterion, group: &str, threads: &[usize], insert_every: usize) {
    let mut group = c.benchmark_group(group);
    for &threads in threads {
        let streams: Vec<Vec<u64>> = (0..threads)
            .map(|thread| zipf_keys(STREAM, UNIVERSE, 1.0, 11 + thread as u64))
            .collect();
        group.throughput(Throughput::Elements((OPS * threads) as u64));
        for (name, cache) in subjects() {
            streams
                .iter()
                .for_each(|keys| run(&*cache, keys, insert_every));
            // Which window of the streams the next iteration runs, round and round. It lives
            // outside the routine, which criterion calls afresh for every sample: kept inside, it
            // started each sample at the first window, so with a few iterations a sample the
            // bench replayed the stream's first windows, which the cache then held.
            let mut window = 0;
            group.bench_function(BenchmarkId::new(name, format!("{threads}t")), |b| {
                b.iter_custom(|iterations| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        let start = Instant::now();
                        std::thread::scope(|scope| {
                            for keys in &streams {
                                let (cache, keys) = (&*cache, &keys[window * OPS..][..OPS]);
                                scope.spawn(move || run(cache, keys, insert_every));
                            }
                        });
                        total += start.elapsed();
                        window = (window + 1) % (STREAM / OPS);
                    }
                    total
                });
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = stanchion_benches::criterion();
    targets = zipf_mix, zipf_inserts
}
criterion_main!(benches);
