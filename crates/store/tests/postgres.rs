//! The PostgreSQL adapter against a real server, named by `STANCHION_PG_URL`
//! (e.g. `postgres://postgres@127.0.0.1:5432/test`). When it is unset, the tests that need a
//! server say so and pass; CI sets it. Each test works in its own fresh schema and drops it.
#![cfg(all(feature = "postgres", feature = "conformance"))]

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use stanchion_core::{Clock, ManualClock};
use stanchion_store::{
    JobId, JobState, JobStore, NewJob, PostgresStore, PostgresStoreBuilder, StoreError, conformance,
};
use tokio_postgres::NoTls;

const LEASE: Duration = Duration::from_secs(30);

/// The server's URL, or `None` after saying that `test` is skipped.
fn server(test: &str) -> Option<String> {
    let url = std::env::var("STANCHION_PG_URL").ok();
    if url.is_none() {
        let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(!in_ci, "{test}: STANCHION_PG_URL must be set under CI");
        eprintln!("skipped {test}: STANCHION_PG_URL is not set");
    }
    url
}

/// A uniquely named schema, dropped (best effort) when this goes out of scope, even on panic.
struct TempSchema {
    url: String,
    name: String,
}

impl TempSchema {
    fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            name: format!("stanchion_test_{}", uuid::Uuid::now_v7().simple()),
        }
    }

    fn store(&self) -> PostgresStoreBuilder {
        PostgresStore::builder(&self.url).schema(&self.name)
    }

    /// A store that waits for jobs (polling too rarely to matter: only a notification wakes it
    /// in time) and another that inserts them.
    async fn waiter_and_inserter(&self) -> (PostgresStore, PostgresStore) {
        let waiter = self
            .store()
            .poll_interval(Duration::from_secs(10))
            .connect()
            .await
            .unwrap();
        (waiter, self.store().connect().await.unwrap())
    }
}

impl Drop for TempSchema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Drop may run inside a runtime, which cannot block: use a thread with its own.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let client = connect(&url).await;
                    client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
                        .await
                })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop schema {}: {dropped:?}", self.name);
        }
    }
}

/// A plain connection, for what the store does not offer.
async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = url
        .parse::<tokio_postgres::Config>()
        .unwrap()
        .connect(NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

fn manual_clock() -> ManualClock {
    ManualClock::with_wall(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000))
}

fn job(name: &str) -> NewJob {
    NewJob::new(name, name.as_bytes().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_conforms() {
    let Some(url) = server("postgres_store_conforms") else {
        return;
    };
    let schemas = Arc::new(Mutex::new(Vec::new()));
    conformance::run_all(|clock: ManualClock| {
        let (url, schemas) = (url.clone(), schemas.clone());
        async move {
            let schema = TempSchema::new(&url);
            let store = schema
                .store()
                .pool_size(4)
                .clock(Arc::new(clock))
                .connect()
                .await
                .unwrap();
            schemas.lock().unwrap().push(schema);
            store
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent_and_safe_when_stores_connect_at_once() {
    let Some(url) = server("migrations_are_idempotent_and_safe_when_stores_connect_at_once") else {
        return;
    };
    let schema = TempSchema::new(&url);
    let connecting: Vec<_> = (0..4)
        .map(|_| tokio::spawn(schema.store().pool_size(1).connect()))
        .collect();
    let mut stores = Vec::new();
    for store in connecting {
        stores.push(
            store
                .await
                .unwrap()
                .expect("every concurrent connect succeeds"),
        );
    }
    let again = schema
        .store()
        .connect()
        .await
        .expect("connecting again is a no-op");
    let job = stores[0].insert(job("a")).await.unwrap();
    assert_eq!(again.get(job.id).await.unwrap(), job, "one table, shared");

    let client = connect(&url).await;
    let versions: Vec<i32> = client
        .query(
            &format!(
                "SELECT version FROM \"{}\".stanchion_migrations ORDER BY version",
                schema.name
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(versions, vec![1], "each migration recorded once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_constraints_refuse_invalid_rows() {
    let Some(url) = server("check_constraints_refuse_invalid_rows") else {
        return;
    };
    let schema = TempSchema::new(&url);
    let _store = schema.store().connect().await.unwrap();
    let client = connect(&url).await;
    client
        .batch_execute(&format!("SET search_path TO \"{}\"", schema.name))
        .await
        .unwrap();
    let insert = |values: &str| {
        format!(
            "INSERT INTO stanchion_jobs (id, name, priority, state, payload, attempt, max_attempts, \
             run_at, created_at, started_at, completed_at, lease_worker, lease_until) \
             VALUES (gen_random_uuid(), 'j', 0, {values})"
        )
    };
    let valid = "'available', '', 0, 3, now(), now(), NULL, NULL, NULL, NULL";
    client
        .batch_execute(&insert(valid))
        .await
        .expect("a valid row is accepted");
    let refused = [
        (
            "running without a lease",
            "'running', '', 1, 3, now(), now(), now(), NULL, NULL, NULL",
            "stanchion_jobs_running_has_lease",
        ),
        (
            "a lease while available",
            "'available', '', 0, 3, now(), now(), NULL, NULL, 'w', now()",
            "stanchion_jobs_running_has_lease",
        ),
        (
            "half a lease",
            "'available', '', 0, 3, now(), now(), NULL, NULL, 'w', NULL",
            "stanchion_jobs_lease_whole",
        ),
        (
            "an unknown state",
            "'paused', '', 0, 3, now(), now(), NULL, NULL, NULL, NULL",
            "stanchion_jobs_state_known",
        ),
        (
            "no attempt allowed",
            "'available', '', 0, 0, now(), now(), NULL, NULL, NULL, NULL",
            "stanchion_jobs_max_attempts_positive",
        ),
        (
            "a negative attempt",
            "'available', '', -1, 3, now(), now(), NULL, NULL, NULL, NULL",
            "stanchion_jobs_attempt_in_range",
        ),
        (
            "more attempts than allowed",
            "'failed', '', 4, 3, now(), now(), now(), NULL, NULL, NULL",
            "stanchion_jobs_attempt_in_range",
        ),
        (
            "succeeded without completed_at",
            "'succeeded', '', 1, 3, now(), now(), now(), NULL, NULL, NULL",
            "stanchion_jobs_final_has_completed_at",
        ),
        (
            "completed_at while failed",
            "'failed', '', 1, 3, now(), now(), now(), now(), NULL, NULL",
            "stanchion_jobs_final_has_completed_at",
        ),
        (
            "running before any attempt",
            "'running', '', 0, 3, now(), now(), now(), NULL, 'w', now()",
            "stanchion_jobs_running_has_started",
        ),
    ];
    for (what, values, constraint) in refused {
        let error = client.batch_execute(&insert(values)).await.expect_err(what);
        let db = error
            .as_db_error()
            .unwrap_or_else(|| panic!("{what}: {error}"));
        assert_eq!(
            (db.code(), db.constraint()),
            (
                &tokio_postgres::error::SqlState::CHECK_VIOLATION,
                Some(constraint)
            ),
            "{what}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_that_cannot_be_decoded_is_a_codec_error() {
    let Some(url) = server("a_row_that_cannot_be_decoded_is_a_codec_error") else {
        return;
    };
    let schema = TempSchema::new(&url);
    let store = schema.store().connect().await.unwrap();
    let job = store.insert(job("a")).await.unwrap();
    // Only someone bypassing the constraints could store this state.
    let client = connect(&url).await;
    client
        .batch_execute(&format!(
            "SET search_path TO \"{}\"; \
             ALTER TABLE stanchion_jobs DROP CONSTRAINT stanchion_jobs_state_known; \
             UPDATE stanchion_jobs SET state = 'paused'",
            schema.name
        ))
        .await
        .unwrap();
    assert_eq!(
        store.get(job.id).await,
        Err(StoreError::Codec("unknown job state \"paused\"".into()))
    );
    assert!(matches!(
        store.count_by_state().await,
        Err(StoreError::Codec(_))
    ));
}

/// Claims `batch` at a time and completes them until no job is left; returns the ids it completed.
async fn drain(store: PostgresStore, worker: String, batch: usize) -> Vec<JobId> {
    let mut completed = Vec::new();
    loop {
        let jobs = store.claim(&worker, batch, LEASE).await.unwrap();
        if jobs.is_empty() {
            return completed;
        }
        let done: Vec<(JobId, u32)> = jobs.iter().map(|job| (job.id, job.attempt)).collect();
        for outcome in store.complete_batch(&done).await.unwrap() {
            let job = outcome.expect("a job this worker holds completes");
            assert_eq!(job.state, JobState::Succeeded);
            completed.push(job.id);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_workers_complete_100k_jobs_exactly_once() {
    let Some(url) = server("eight_workers_complete_100k_jobs_exactly_once") else {
        return;
    };
    const JOBS: usize = 100_000;
    let schema = TempSchema::new(&url);
    let store = schema.store().pool_size(2).connect().await.unwrap();
    let started = Instant::now();
    let jobs = (0..JOBS)
        .map(|i| NewJob::new("work", i.to_le_bytes().to_vec()).priority((i % 3) as i16))
        .collect();
    let inserted: HashSet<JobId> = store
        .insert_batch(jobs)
        .await
        .unwrap()
        .iter()
        .map(|job| job.id)
        .collect();
    let insert_time = started.elapsed();

    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..8 {
        // Each worker has its own store, as a worker machine would.
        let store = schema.store().pool_size(1).connect().await.unwrap();
        workers.push(tokio::spawn(drain(store, format!("w{w}"), 100)));
    }
    let mut completed = HashSet::new();
    for worker in workers {
        for id in worker.await.unwrap() {
            assert!(completed.insert(id), "job {id} was completed twice");
        }
    }
    let work_time = started.elapsed();
    assert_eq!(completed, inserted, "every inserted job was completed");
    assert_eq!(
        store.count_by_state().await.unwrap(),
        BTreeMap::from([(JobState::Succeeded, JOBS as u64)])
    );
    eprintln!(
        "100k jobs: insert_batch {insert_time:.2?}; 8 workers claimed and completed them in \
         {work_time:.2?} ({:.0} jobs/s)",
        JOBS as f64 / work_time.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_jobs_are_rescued_and_its_late_completion_refused() {
    let Some(url) = server("a_killed_workers_jobs_are_rescued_and_its_late_completion_refused")
    else {
        return;
    };
    let schema = TempSchema::new(&url);
    let clock = manual_clock();
    let store = schema
        .store()
        .clock(Arc::new(clock.clone()))
        .connect()
        .await
        .unwrap();
    store
        .insert_batch(vec![job("a"), job("b"), job("c")])
        .await
        .unwrap();

    // The doomed worker claims everything, then dies without a word.
    let (claimed_tx, claimed_rx) = tokio::sync::oneshot::channel();
    let doomed = {
        let store = store.clone();
        tokio::spawn(async move {
            let jobs = store.claim("doomed", 10, LEASE).await.unwrap();
            claimed_tx.send(jobs).unwrap();
            std::future::pending::<()>().await;
        })
    };
    let lost = claimed_rx.await.unwrap();
    doomed.abort();
    assert_eq!(lost.len(), 3);
    assert!(
        store.claim("other", 10, LEASE).await.unwrap().is_empty(),
        "leased"
    );

    clock.advance(LEASE - Duration::from_secs(1));
    assert!(
        store.rescue_expired(clock.wall()).await.unwrap().is_empty(),
        "not yet"
    );
    clock.advance(Duration::from_secs(1));
    let rescued = store.rescue_expired(clock.wall()).await.unwrap();
    let mut lost_ids: Vec<JobId> = lost.iter().map(|job| job.id).collect();
    lost_ids.sort();
    assert_eq!(
        rescued.iter().map(|job| job.id).collect::<Vec<_>>(),
        lost_ids
    );
    assert!(
        rescued
            .iter()
            .all(|job| job.state == JobState::Failed && job.lease.is_none())
    );

    let retried = store.claim("survivor", 10, LEASE).await.unwrap();
    assert_eq!(retried.len(), 3);
    assert!(retried.iter().all(|job| job.attempt == 2));
    for job in &lost {
        assert!(
            matches!(
                store.complete(job.id, job.attempt).await,
                Err(StoreError::Conflict { .. })
            ),
            "the dead worker's late completion is refused"
        );
        assert!(matches!(
            store.heartbeat(job.id, job.attempt, LEASE).await,
            Err(StoreError::Conflict { .. })
        ));
    }
    let late: Vec<(JobId, u32)> = lost.iter().map(|job| (job.id, job.attempt)).collect();
    for outcome in store.complete_batch(&late).await.unwrap() {
        assert!(
            matches!(outcome, Err(StoreError::Conflict { .. })),
            "{outcome:?}"
        );
    }
    for job in &retried {
        store.complete(job.id, job.attempt).await.unwrap();
    }
    assert_eq!(
        store.count_by_state().await.unwrap(),
        BTreeMap::from([(JobState::Succeeded, 3)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_batch_reports_each_job() {
    let Some(url) = server("complete_batch_reports_each_job") else {
        return;
    };
    let schema = TempSchema::new(&url);
    let store = schema.store().connect().await.unwrap();
    store
        .insert_batch(vec![job("a"), job("b"), job("c")])
        .await
        .unwrap();
    let waiting = store.insert(job("waiting")).await.unwrap();
    let claimed = store.claim("w", 3, LEASE).await.unwrap();
    let missing = JobId::new();
    let outcomes = store
        .complete_batch(&[
            (claimed[0].id, 1),
            (claimed[1].id, 2),
            (missing, 1),
            (claimed[0].id, 1),
            (waiting.id, 0),
            (claimed[2].id, 1),
        ])
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 6);
    assert_eq!(outcomes[0].as_ref().unwrap().state, JobState::Succeeded);
    let stale = StoreError::Conflict {
        id: claimed[1].id,
        reason: "attempt 2 is stale; the job is at attempt 1".into(),
    };
    assert_eq!(outcomes[1], Err(stale), "the memory adapter's words");
    assert_eq!(outcomes[2], Err(StoreError::NotFound(missing)));
    assert!(
        matches!(outcomes[3], Err(StoreError::Conflict { .. })),
        "an id given twice completes once"
    );
    assert!(
        matches!(outcomes[4], Err(StoreError::Conflict { .. })),
        "not running"
    );
    assert_eq!(outcomes[5].as_ref().unwrap().id, claimed[2].id);
    assert!(store.complete_batch(&[]).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_jobs_wakes_on_insert_and_times_out_otherwise() {
    let Some(url) = server("wait_for_jobs_wakes_on_insert_and_times_out_otherwise") else {
        return;
    };
    let schema = TempSchema::new(&url);
    let (waiter, inserter) = schema.waiter_and_inserter().await;

    let started = Instant::now();
    waiter.wait_for_jobs(Duration::from_millis(300)).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(2),
        "nothing inserted: returns at the timeout, after {waited:?}"
    );

    assert_wakes_on_insert(&waiter, &inserter).await;

    // Another schema's inserts do not wake this one.
    let elsewhere = TempSchema::new(&url);
    let stranger = elsewhere.store().connect().await.unwrap();
    let started = Instant::now();
    let insert = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        stranger.insert(job("elsewhere")).await.unwrap();
    };
    tokio::join!(waiter.wait_for_jobs(Duration::from_millis(800)), insert);
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "woken by another schema"
    );

    // The poll interval bounds every wait.
    let polling = schema
        .store()
        .poll_interval(Duration::from_millis(200))
        .connect()
        .await
        .unwrap();
    let started = Instant::now();
    polling.wait_for_jobs(Duration::from_secs(30)).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_secs(2),
        "returns at the poll interval, after {waited:?}"
    );
}

/// `waiter` returns well before its 10 s poll interval once `inserter` inserts a job.
async fn assert_wakes_on_insert(waiter: &PostgresStore, inserter: &PostgresStore) {
    let started = Instant::now();
    let insert = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        inserter.insert(job("wake")).await.unwrap();
    };
    tokio::join!(waiter.wait_for_jobs(Duration::from_secs(30)), insert);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(2),
        "woken by the insert, after {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_jobs_survives_a_lost_listen_connection() {
    let Some(url) = server("wait_for_jobs_survives_a_lost_listen_connection") else {
        return;
    };
    let schema = TempSchema::new(&url);
    let (waiter, inserter) = schema.waiter_and_inserter().await;
    assert_wakes_on_insert(&waiter, &inserter).await;

    let admin = connect(&url).await;
    let killed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1",
            &[&format!("LISTEN \"{}.stanchion_jobs\"", schema.name)],
        )
        .await
        .unwrap();
    assert_eq!(killed.len(), 2, "both stores' listening connections");

    // Waiting never hangs, and the listener comes back.
    let started = Instant::now();
    waiter.wait_for_jobs(Duration::from_millis(500)).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_wakes_on_insert(&waiter, &inserter).await;
}

#[tokio::test]
async fn invalid_configuration_is_refused_at_connect() {
    // No server is needed: these fail before connecting, or cannot connect.
    let url = "postgres://postgres@127.0.0.1:1/test";
    let check = async |builder: PostgresStoreBuilder, expected: &[&str]| {
        let message = match builder.connect().await {
            Err(error @ StoreError::Config(_)) => error.to_string(),
            other => panic!("expected a Config error, got {other:?}"),
        };
        for part in expected {
            assert!(message.contains(part), "{message:?} does not name {part:?}");
        }
    };
    let builder = || PostgresStore::builder(url);
    check(
        builder().schema(""),
        &["invalid configuration", "schema", "empty"],
    )
    .await;
    check(
        builder().schema("Jobs-EU"),
        &["schema \"Jobs-EU\"", "plain identifier"],
    )
    .await;
    check(
        builder().schema("x\"; DROP TABLE t; --"),
        &["schema", "plain identifier"],
    )
    .await;
    check(builder().schema("a".repeat(49)), &["schema", "48 bytes"]).await;
    check(
        builder().schema("pg_jobs"),
        &["schema \"pg_jobs\"", "reserves"],
    )
    .await;
    check(
        builder().pool_size(0),
        &["invalid configuration", "pool_size 0"],
    )
    .await;
    check(
        builder().poll_interval(Duration::ZERO),
        &["poll_interval 0"],
    )
    .await;
    check(
        PostgresStore::builder("postgres://[bad"),
        &["connection url"],
    )
    .await;
    match builder().connect().await {
        Err(StoreError::Storage(message)) => assert!(
            message.contains("connecting") && message.contains("error connecting to server"),
            "{message:?}"
        ),
        other => panic!("a server that does not answer is a Storage error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn times_are_stored_to_the_microsecond() {
    let Some(url) = server("times_are_stored_to_the_microsecond") else {
        return;
    };
    let schema = TempSchema::new(&url);
    let clock = manual_clock();
    clock.advance(Duration::from_nanos(1_234_567));
    let store = schema
        .store()
        .clock(Arc::new(clock.clone()))
        .connect()
        .await
        .unwrap();
    let inserted = store
        .insert(job("a").run_at(clock.wall() + Duration::from_nanos(999)))
        .await
        .unwrap();
    assert_eq!(
        inserted.created_at,
        manual_clock().wall() + Duration::from_micros(1_234)
    );
    assert_eq!(
        store.get(inserted.id).await.unwrap(),
        inserted,
        "insert returns what is stored"
    );
}
