//! stanchion-store: the redb adapter's reads through its cache against raw redb reads and the
//! seed's DashMap in front of redb; durable inserts in batches and from many concurrent callers
//! against raw redb transactions; claim and complete throughput of each adapter (PostgreSQL when
//! `STANCHION_PG_URL` is set, in a schema `stanchion_bench` dropped before and after).
//!
//! - `store/get_cached/<threads>`: 100,000 jobs, all cached, read with Zipf(1.0)-skewed ids
//!   (the skew of the cache benches). `redb` opens a read transaction, reads and decodes the job each time (what a store
//!   without a cache does); `dashmap` is a `DashMap<JobId, Job>` with every job in it (the seed's
//!   read-through cache, hit path only).
//! - `store/insert_batch/1000`: one `insert_batch` of 1,000 jobs, durable (fsync) before it
//!   returns; `redb` writes the same encoded jobs into one table in one durable transaction, with
//!   none of our indexes.
//! - `store/insert_concurrent/64`: 64 tasks insert one job each at once; ours group-commits them,
//!   `redb` commits each in its own durable transaction (the seed's fsync per save).
//! - `store/claim_complete/<adapter>`: claim 100 jobs and complete them, with the completions
//!   sent concurrently (`stanchion-postgres-batch`: in one `complete_batch` statement), over a store that holds up to 20,000 runnable jobs; the iteration that
//!   finds fewer than 100 inserts 20,000 more, inside the measurement (one in 200 iterations).

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dashmap::DashMap;
use redb::{Database, ReadableDatabase, TableDefinition};
use stanchion_benches::{OURS, zipf_keys};
use stanchion_store::{Job, JobId, JobStore, MemoryStore, NewJob, PostgresStore, RedbStore};

const JOBS: usize = 100_000;
/// The Zipf exponent of the job ids read: reads favour some jobs, as dashboards and workers
/// polling their own jobs do.
const READ_SKEW: f64 = 1.0;
const RAW: TableDefinition<'_, u128, &[u8]> = TableDefinition::new("jobs");

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn new_jobs(n: usize) -> Vec<NewJob> {
    (0..n)
        .map(|i| NewJob::new("send_email", format!("to=user{i}@example.com").into_bytes()))
        .collect()
}

/// Runs `read` on `threads` threads, each over its own stretch of `keys`, `iters` reads in all;
/// returns the wall time.
fn threaded(
    threads: usize,
    iters: u64,
    keys: &[JobId],
    read: impl Fn(&mut dyn Iterator<Item = JobId>) + Sync,
) -> Duration {
    let per_thread = iters.div_ceil(threads as u64) as usize;
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let read = &read;
            s.spawn(move || {
                let mut ids = keys
                    .iter()
                    .copied()
                    .cycle()
                    .skip(t * keys.len() / 2)
                    .take(per_thread);
                read(&mut ids);
            });
        }
    });
    start.elapsed()
}

fn get_cached(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let store = RedbStore::builder(dir.path().join("ours.redb"))
        .cache_capacity(JOBS as u64)
        .open()
        .unwrap();
    let jobs: Vec<Job> = rt.block_on(store.insert_batch(new_jobs(JOBS))).unwrap();
    let ids: Vec<JobId> = jobs.iter().map(|j| j.id).collect();
    rt.block_on(store.get_many(ids.clone())).unwrap(); // warm the cache
    let keys: Vec<JobId> = zipf_keys(1 << 16, JOBS as u64, READ_SKEW, 7)
        .into_iter()
        .map(|rank| ids[rank as usize])
        .collect();
    let raw = Database::create(dir.path().join("raw.redb")).unwrap();
    let txn = raw.begin_write().unwrap();
    {
        let mut table = txn.open_table(RAW).unwrap();
        for job in &jobs {
            let bytes = postcard::to_allocvec(job).unwrap();
            table.insert(job.id.0.as_u128(), bytes.as_slice()).unwrap();
        }
    }
    txn.commit().unwrap();
    let seed_cache: DashMap<JobId, Job> = jobs.iter().map(|j| (j.id, j.clone())).collect();

    let mut group = c.benchmark_group("store/get_cached");
    group.throughput(Throughput::Elements(1));
    for threads in [1, 2] {
        group.bench_function(BenchmarkId::new(OURS, threads), |b| {
            b.iter_custom(|iters| {
                threaded(threads, iters, &keys, |ids| {
                    // Awaited in a task, as an application would; a cached get completes on
                    // its first poll.
                    let local = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap();
                    local.block_on(async {
                        for id in ids {
                            black_box(store.get(id).await.unwrap());
                        }
                    });
                })
            })
        });
        group.bench_function(BenchmarkId::new("redb", threads), |b| {
            b.iter_custom(|iters| {
                threaded(threads, iters, &keys, |ids| {
                    for id in ids {
                        let txn = raw.begin_read().unwrap();
                        let table = txn.open_table(RAW).unwrap();
                        let bytes = table.get(id.0.as_u128()).unwrap().unwrap();
                        black_box(postcard::from_bytes::<Job>(bytes.value()).unwrap());
                    }
                })
            })
        });
        group.bench_function(BenchmarkId::new("dashmap", threads), |b| {
            b.iter_custom(|iters| {
                threaded(threads, iters, &keys, |ids| {
                    for id in ids {
                        black_box(seed_cache.get(&id).unwrap().clone());
                    }
                })
            })
        });
    }
    group.finish();
}

fn inserts(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let store = RedbStore::open(dir.path().join("ours.redb")).unwrap();
    let raw = Database::create(dir.path().join("raw.redb")).unwrap();
    let encoded = |n: usize| -> Vec<(u128, Vec<u8>)> {
        new_jobs(n)
            .into_iter()
            .map(|j| {
                let job = j.into_job(SystemTime::now());
                (job.id.0.as_u128(), postcard::to_allocvec(&job).unwrap())
            })
            .collect()
    };

    let mut group = c.benchmark_group("store/insert_batch");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1000));
    group.bench_function(BenchmarkId::new(OURS, 1000), |b| {
        b.iter_batched(
            || new_jobs(1000),
            |jobs| rt.block_on(store.insert_batch(jobs)).unwrap(),
            criterion::BatchSize::PerIteration,
        )
    });
    group.bench_function(BenchmarkId::new("redb", 1000), |b| {
        b.iter_batched(
            || encoded(1000),
            |jobs| {
                let txn = raw.begin_write().unwrap();
                {
                    let mut table = txn.open_table(RAW).unwrap();
                    for (id, bytes) in &jobs {
                        table.insert(id, bytes.as_slice()).unwrap();
                    }
                }
                txn.commit().unwrap();
            },
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();

    let mut group = c.benchmark_group("store/insert_concurrent");
    group.sample_size(10);
    group.throughput(Throughput::Elements(64));
    group.bench_function(BenchmarkId::new(OURS, 64), |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut tasks = tokio::task::JoinSet::new();
                for job in new_jobs(64) {
                    let store = store.clone();
                    tasks.spawn(async move { store.insert(job).await.unwrap() });
                }
                tasks.join_all().await
            })
        })
    });
    group.bench_function(BenchmarkId::new("redb", 64), |b| {
        b.iter_batched(
            || encoded(64),
            |jobs| {
                for (id, bytes) in &jobs {
                    let txn = raw.begin_write().unwrap();
                    txn.open_table(RAW)
                        .unwrap()
                        .insert(id, bytes.as_slice())
                        .unwrap();
                    txn.commit().unwrap();
                }
            },
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// Claims 100 jobs; refills the store when it runs low.
async fn claim_100<S: JobStore>(store: &S) -> Vec<Job> {
    let claimed = store
        .claim("bench", 100, Duration::from_secs(60))
        .await
        .unwrap();
    if claimed.len() < 100 {
        store.insert_batch(new_jobs(20_000)).await.unwrap();
    }
    claimed
}

/// Claims 100 jobs and completes them all concurrently.
async fn claim_complete<S: JobStore + Clone + 'static>(store: &S) {
    let mut tasks = tokio::task::JoinSet::new();
    for job in claim_100(store).await {
        let store = store.clone();
        tasks.spawn(async move { store.complete(job.id, job.attempt).await.unwrap() });
    }
    tasks.join_all().await;
}

/// A PostgreSQL store in a schema of its own, emptied first, when `STANCHION_PG_URL` is set.
async fn postgres() -> Option<PostgresStore> {
    let Ok(url) = std::env::var("STANCHION_PG_URL") else {
        eprintln!("store/claim_complete: STANCHION_PG_URL is not set; PostgreSQL is not measured");
        return None;
    };
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("STANCHION_PG_URL does not answer");
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        .await
        .unwrap();
    Some(
        PostgresStore::builder(url)
            .schema(PG_SCHEMA)
            .connect()
            .await
            .unwrap(),
    )
}

const PG_SCHEMA: &str = "stanchion_bench";

fn claims(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let memory = MemoryStore::new();
    let redb = RedbStore::open(dir.path().join("claims.redb")).unwrap();
    let postgres = rt.block_on(async {
        memory.insert_batch(new_jobs(20_000)).await.unwrap();
        redb.insert_batch(new_jobs(20_000)).await.unwrap();
        let postgres = postgres().await;
        if let Some(store) = &postgres {
            store.insert_batch(new_jobs(20_000)).await.unwrap();
        }
        postgres
    });
    let mut group = c.benchmark_group("store/claim_complete");
    group.sample_size(10);
    group.throughput(Throughput::Elements(100));
    group.bench_function(format!("{OURS}-memory"), |b| {
        b.iter(|| rt.block_on(claim_complete(&memory)))
    });
    group.bench_function(format!("{OURS}-redb"), |b| {
        b.iter(|| rt.block_on(claim_complete(&redb)))
    });
    if let Some(store) = &postgres {
        group.bench_function(format!("{OURS}-postgres"), |b| {
            b.iter(|| rt.block_on(claim_complete(store)))
        });
        group.bench_function(format!("{OURS}-postgres-batch"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let claimed = claim_100(store).await;
                    let done: Vec<(JobId, u32)> =
                        claimed.iter().map(|j| (j.id, j.attempt)).collect();
                    store.complete_batch(&done).await.unwrap()
                })
            })
        });
    }
    group.finish();
    if postgres.is_some() {
        rt.block_on(async {
            let url = std::env::var("STANCHION_PG_URL").unwrap();
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            client
                .batch_execute(&format!("DROP SCHEMA {PG_SCHEMA} CASCADE"))
                .await
                .unwrap();
        });
    }
}

criterion_group! {
    name = benches;
    config = stanchion_benches::criterion();
    targets = get_cached, inserts, claims
}
criterion_main!(benches);
