//! The redb adapter: the conformance suite, durability across reopen and SIGKILL, clear errors
//! on files that are not ours, group commit, compaction, and a cache that never goes stale.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use stanchion_store::{
    JobId, JobState, JobStore, ListFilter, NewJob, RedbStore, StoreError, conformance,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn storage_message(result: Result<RedbStore, StoreError>) -> String {
    match result {
        Err(StoreError::Storage(message)) => message,
        other => panic!("expected a storage error, got {other:?}"),
    }
}

/// Runs the conformance suite, each check on a new file with a cache of `cache_capacity` jobs.
async fn conforms(cache_capacity: u64) {
    let dir = tempfile::tempdir().unwrap();
    let files = AtomicUsize::new(0);
    conformance::run_all(|clock| {
        let path = dir
            .path()
            .join(format!("{}.redb", files.fetch_add(1, Relaxed)));
        async move {
            RedbStore::builder(path)
                .cache_capacity(cache_capacity)
                .clock(Arc::new(clock))
                .open()
                .unwrap()
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_store_conforms() {
    conforms(100_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_also_passes_without_the_cache() {
    conforms(0).await;
}

#[test]
fn jobs_and_indexes_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.redb");
    let rt = runtime();
    let (ids, running) = rt.block_on(async {
        let store = RedbStore::open(&path).unwrap();
        let jobs: Vec<NewJob> = (0..10)
            .map(|i| NewJob::new("report", vec![i]).tenant(if i % 2 == 0 { "acme" } else { "x" }))
            .collect();
        let ids: Vec<JobId> = store
            .insert_batch(jobs)
            .await
            .unwrap()
            .iter()
            .map(|j| j.id)
            .collect();
        let running = store.claim("w", 3, Duration::from_secs(60)).await.unwrap();
        (ids, running)
    });
    rt.block_on(async {
        let store = RedbStore::open(&path).unwrap();
        let got = store.get_many(ids.clone()).await.unwrap();
        assert!(got.iter().all(Option::is_some), "every job is back");
        let counts = store.count_by_state().await.unwrap();
        assert_eq!(counts.get(&JobState::Running), Some(&3));
        assert_eq!(counts.get(&JobState::Available), Some(&7));
        // The claim index came back too: the next claim takes the next jobs in order.
        let next = store.claim("w", 1, Duration::from_secs(60)).await.unwrap();
        assert_eq!(next[0].id, ids[3]);
        let acme_running = store
            .list(
                ListFilter {
                    tenant: Some("acme".into()),
                    state: Some(JobState::Running),
                    ..ListFilter::default()
                },
                None,
                100,
            )
            .await
            .unwrap();
        let expected: Vec<JobId> = running
            .iter()
            .map(|j| j.id)
            .chain([ids[3]])
            .filter(|id| ids.iter().position(|i| i == id).unwrap() % 2 == 0)
            .collect();
        let listed: Vec<JobId> = acme_running.jobs.iter().map(|j| j.id).collect();
        assert_eq!(listed, expected);
    });
}

#[test]
fn a_file_that_is_not_a_redb_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, vec![b'x'; 8192]).unwrap();
    let message = storage_message(RedbStore::open(&path));
    assert!(message.contains("notes.txt"), "names the file: {message}");
}

#[test]
fn a_damaged_file_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.redb");
    runtime().block_on(async {
        let store = RedbStore::open(&path).unwrap();
        let jobs = (0..2_000)
            .map(|i| NewJob::new("j", vec![0; i % 300]))
            .collect();
        store.insert_batch(jobs).await.unwrap();
    });
    let mut bytes = std::fs::read(&path).unwrap();
    // Overwrite everything after the header and the first pages with noise.
    let mut rng = fastrand::Rng::with_seed(7);
    for byte in bytes.iter_mut().skip(4096) {
        *byte = rng.u8(..);
    }
    std::fs::write(&path, &bytes).unwrap();
    let message = storage_message(RedbStore::open(&path));
    assert!(message.contains("jobs.redb"), "names the file: {message}");
}

#[test]
fn another_programs_redb_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        let table: redb::TableDefinition<'_, &str, u64> = redb::TableDefinition::new("accounts");
        txn.open_table(table).unwrap().insert("ada", 1).unwrap();
        txn.commit().unwrap();
    }
    let message = storage_message(RedbStore::open(&path));
    assert!(
        message.contains("not a stanchion-store file") && message.contains("accounts"),
        "{message}"
    );
}

#[test]
fn a_second_open_of_the_same_file_is_refused_while_the_first_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.redb");
    let first = RedbStore::open(&path).unwrap();
    let message = storage_message(RedbStore::open(&path));
    assert!(message.contains("jobs.redb"), "{message}");
    drop(first);
    RedbStore::open(&path).expect("dropping the last handle closes the file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(dir.path().join("jobs.redb")).unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.insert(NewJob::new("j", vec![i as u8])).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let stats = store.stats();
    assert_eq!(stats.writes, 200);
    assert!(
        stats.commits < 200,
        "200 concurrent inserts took {} commits: nothing was grouped",
        stats.commits
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_keeps_every_job() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(dir.path().join("jobs.redb")).unwrap();
    let jobs = (0..3_000).map(|_| NewJob::new("j", vec![7; 200])).collect();
    let ids: Vec<JobId> = store
        .insert_batch(jobs)
        .await
        .unwrap()
        .iter()
        .map(|j| j.id)
        .collect();
    for claimed in store
        .claim("w", 3_000, Duration::from_secs(60))
        .await
        .unwrap()
    {
        store.complete(claimed.id, claimed.attempt).await.unwrap();
    }
    store.compact().await.unwrap();
    let uncached = RedbStore::builder(dir.path().join("jobs.redb"));
    drop(store);
    let store = uncached.cache_capacity(0).open().unwrap();
    let jobs = store.get_many(ids).await.unwrap();
    assert!(
        jobs.iter()
            .all(|j| j.as_ref().unwrap().state == JobState::Succeeded)
    );
}

/// Readers racing the writer on the same jobs: whatever the cache holds afterwards is what the
/// file holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_never_keeps_a_version_older_than_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.redb");
    let store = RedbStore::builder(&path)
        .cache_capacity(1_000)
        .open()
        .unwrap();
    let jobs = (0..20).map(|_| NewJob::new("j", vec![])).collect();
    let ids: Vec<JobId> = store
        .insert_batch(jobs)
        .await
        .unwrap()
        .iter()
        .map(|j| j.id)
        .collect();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (store, ids) = (store.clone(), ids.clone());
            tokio::spawn(async move {
                for _ in 0..300 {
                    store.get_many(ids.clone()).await.unwrap();
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for round in 0..3 {
        let claimed = store.claim("w", 20, Duration::from_secs(1)).await.unwrap();
        for job in claimed {
            if round < 2 {
                store
                    .fail(job.id, job.attempt, "again", std::time::SystemTime::now())
                    .await
                    .unwrap();
            } else {
                store.complete(job.id, job.attempt).await.unwrap();
            }
        }
    }
    for reader in readers {
        reader.await.unwrap();
    }
    let cached = store.get_many(ids.clone()).await.unwrap();
    // `list` always reads the file.
    let on_file = store
        .list(ListFilter::default(), None, 100)
        .await
        .unwrap()
        .jobs;
    assert_eq!(on_file.len(), ids.len());
    for (job, file) in cached.iter().zip(&on_file) {
        assert_eq!(job.as_ref().unwrap(), file, "cache and file agree");
        assert_eq!(file.state, JobState::Succeeded);
    }
}

/// The environment variable that turns a run of this test binary into the writer the fault test
/// kills.
const CHILD: &str = "STANCHION_REDB_SIGKILL_CHILD";

/// Not a test of its own: the child process of [`acknowledged_inserts_survive_sigkill`], which
/// inserts batches forever and prints each acknowledged id.
#[test]
#[ignore = "the child process of acknowledged_inserts_survive_sigkill"]
fn sigkill_child() {
    let path = std::env::var(CHILD).expect("run by acknowledged_inserts_survive_sigkill");
    let rt = runtime();
    rt.block_on(async {
        let store = RedbStore::open(&path).unwrap();
        let stdout = std::io::stdout();
        for round in 0u32.. {
            let jobs = (0..32)
                .map(|i| NewJob::new("crash", round.to_le_bytes().to_vec()).priority(i))
                .collect();
            let inserted = store.insert_batch(jobs).await.unwrap();
            let mut out = stdout.lock();
            for job in inserted {
                writeln!(out, "{}", job.id.0).unwrap();
            }
            out.flush().unwrap();
        }
    });
}

/// A child inserting batches is killed with SIGKILL at random points, many times; after each
/// reopen the file opens cleanly and every insert the child saw acknowledged is there.
#[test]
fn acknowledged_inserts_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.redb");
    let exe = std::env::current_exe().unwrap();
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let mut acknowledged: Vec<JobId> = Vec::new();
    let rt = runtime();
    for kill in 0..25 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "sigkill_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Let it acknowledge a random number of batches (0 to 10), then kill it mid-flight.
        let wanted = rng.usize(0..=10) * 32;
        let mut seen = 0;
        while seen < wanted {
            let Some(Ok(line)) = lines.next() else { break };
            // The first id shares its line with libtest's "test sigkill_child ... ".
            if let Some(Ok(uuid)) = line.split_whitespace().last().map(str::parse) {
                acknowledged.push(JobId(uuid));
                seen += 1;
            }
        }
        std::thread::sleep(Duration::from_micros(rng.u64(0..3_000)));
        child.kill().unwrap();
        child.wait().unwrap();
        // Anything printed before the kill was acknowledged too.
        for line in lines.map_while(Result::ok) {
            // The first id shares its line with libtest's "test sigkill_child ... ".
            if let Some(Ok(uuid)) = line.split_whitespace().last().map(str::parse) {
                acknowledged.push(JobId(uuid));
            }
        }
        rt.block_on(async {
            let store = RedbStore::builder(&path)
                .cache_capacity(0)
                .open()
                .unwrap_or_else(|e| panic!("after kill {kill} the file does not open: {e}"));
            let found = store.get_many(acknowledged.clone()).await.unwrap();
            let lost = found.iter().filter(|j| j.is_none()).count();
            assert_eq!(
                lost, 0,
                "after kill {kill}, {lost} acknowledged inserts are missing"
            );
            let counts = store.count_by_state().await.unwrap();
            let total: u64 = counts.values().sum();
            assert!(
                total >= acknowledged.len() as u64,
                "the counts cover every job"
            );
        });
    }
    let unique: HashSet<&JobId> = acknowledged.iter().collect();
    assert_eq!(unique.len(), acknowledged.len());
    assert!(
        acknowledged.len() >= 25 * 32,
        "the children acknowledged only {} inserts; the test killed them too early to mean much",
        acknowledged.len()
    );
}
