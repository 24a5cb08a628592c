//! The conformance suite: the [`JobStore`] contract as tests, run unchanged against every adapter.
//!
//! An adapter's test calls [`run_all`] with an async function that builds an empty store reading
//! time from the given clock:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use stanchion_store::{MemoryStore, conformance};
//!
//! conformance::run_all(|clock| async move { MemoryStore::with_clock(Arc::new(clock)) }).await;
//! # });
//! ```
//!
//! Each check panics with a message naming the broken rule.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::time::{Duration, SystemTime};

use stanchion_core::{Clock, ManualClock};

use crate::job::{JobId, JobState, NewJob};
use crate::store::{JobStore, ListFilter, StoreError};

const LEASE: Duration = Duration::from_secs(30);

/// A fixed starting time, so runs are reproducible.
fn clock() -> ManualClock {
    ManualClock::with_wall(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000))
}

fn job(name: &str) -> NewJob {
    NewJob::new(name, name.as_bytes().to_vec())
}

fn is_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict { .. }))
}

/// Runs every check, each on a fresh, empty store from `make`.
pub async fn run_all<S, F, Fut>(make: F)
where
    S: JobStore + Clone + 'static,
    F: Fn(ManualClock) -> Fut,
    Fut: Future<Output = S>,
{
    let fresh = async || {
        let clock = clock();
        (make(clock.clone()).await, clock)
    };
    let (s, c) = fresh().await;
    insert_get_and_get_many(s, c).await;
    let (s, c) = fresh().await;
    scheduled_jobs_wait_for_run_at(s, c).await;
    let (s, c) = fresh().await;
    claims_follow_priority_then_run_at_then_id(s, c).await;
    let (s, c) = fresh().await;
    completion_is_fenced_by_attempt(s, c).await;
    let (s, c) = fresh().await;
    failures_retry_then_discard(s, c).await;
    let (s, c) = fresh().await;
    expired_leases_are_rescued_and_late_completions_refused(s, c).await;
    let (s, c) = fresh().await;
    cancel_stops_a_job_and_fences_its_worker(s, c).await;
    let (s, c) = fresh().await;
    list_pages_through_matching_jobs_once(s, c).await;
    let (s, c) = fresh().await;
    huge_durations_mean_never(s, c).await;
    let (s, c) = fresh().await;
    concurrent_claims_never_share_a_job(s, c).await;
}

/// Inserted jobs come back whole; unknown ids are `NotFound` or `None`.
pub async fn insert_get_and_get_many<S: JobStore>(store: S, clock: ManualClock) {
    let now = clock.wall();
    let one = store
        .insert(job("a").tenant("acme").priority(3).max_attempts(5))
        .await
        .unwrap();
    assert_eq!(one.state, JobState::Available, "a job due now is Available");
    assert_eq!((one.attempt, one.max_attempts, one.priority), (0, 5, 3));
    assert_eq!((one.created_at, one.run_at), (now, now));
    assert_eq!(one.tenant.as_deref(), Some("acme"));
    assert_eq!(
        store.get(one.id).await.unwrap(),
        one,
        "get returns what insert stored"
    );
    let batch = store.insert_batch(vec![job("b"), job("c")]).await.unwrap();
    let missing = JobId::new();
    let many = store
        .get_many(vec![batch[1].id, missing, one.id])
        .await
        .unwrap();
    assert_eq!(many, vec![Some(batch[1].clone()), None, Some(one)]);
    assert_eq!(store.get(missing).await, Err(StoreError::NotFound(missing)));
}

/// A job with a future `run_at` is `Scheduled` and not claimed before it.
pub async fn scheduled_jobs_wait_for_run_at<S: JobStore>(store: S, clock: ManualClock) {
    let later = store
        .insert(job("later").delay(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(later.state, JobState::Scheduled);
    assert!(store.claim("w", 10, LEASE).await.unwrap().is_empty());
    clock.advance(Duration::from_secs(60));
    let claimed = store.claim("w", 10, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1, "runnable once run_at has come");
    assert_eq!(
        (claimed[0].id, claimed[0].state),
        (later.id, JobState::Running)
    );
    let lease = claimed[0].lease.clone().expect("a running job has a lease");
    assert_eq!((&*lease.worker, lease.until), ("w", clock.wall() + LEASE));
}

/// Claims take the highest priority, then the earliest `run_at`, then the lowest id, up to `max`.
pub async fn claims_follow_priority_then_run_at_then_id<S: JobStore>(store: S, clock: ManualClock) {
    let start = clock.wall();
    let low = store.insert(job("low").priority(-1)).await.unwrap();
    let first = store.insert(job("first")).await.unwrap();
    let second = store.insert(job("second")).await.unwrap();
    let early = store
        .insert(job("early").run_at(start - Duration::from_secs(5)))
        .await
        .unwrap();
    let high = store.insert(job("high").priority(9)).await.unwrap();
    let claimed = store.claim("w", 3, LEASE).await.unwrap();
    let ids: Vec<JobId> = claimed.iter().map(|j| j.id).collect();
    assert_eq!(
        ids,
        vec![high.id, early.id, first.id],
        "priority, then run_at, then id"
    );
    let rest = store.claim("w", 10, LEASE).await.unwrap();
    let ids: Vec<JobId> = rest.iter().map(|j| j.id).collect();
    assert_eq!(ids, vec![second.id, low.id]);
    assert!(claimed.iter().chain(&rest).all(|j| j.attempt == 1));
}

/// Only the current attempt of a running job completes it, once.
pub async fn completion_is_fenced_by_attempt<S: JobStore>(store: S, clock: ManualClock) {
    let inserted = store.insert(job("a")).await.unwrap();
    assert!(
        is_conflict(store.complete(inserted.id, 0).await),
        "an Available job cannot be completed"
    );
    let running = store.claim("w", 1, LEASE).await.unwrap().remove(0);
    assert!(is_conflict(
        store.complete(running.id, running.attempt + 1).await
    ));
    clock.advance(Duration::from_secs(1));
    let done = store.complete(running.id, running.attempt).await.unwrap();
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.completed_at, Some(clock.wall()));
    assert_eq!(done.lease, None);
    assert!(
        is_conflict(store.complete(running.id, running.attempt).await),
        "a second completion is refused"
    );
    let missing = JobId::new();
    assert_eq!(
        store.complete(missing, 1).await,
        Err(StoreError::NotFound(missing))
    );
}

/// A failed attempt runs again at `retry_at`; the last allowed attempt discards the job.
pub async fn failures_retry_then_discard<S: JobStore>(store: S, clock: ManualClock) {
    let inserted = store.insert(job("flaky").max_attempts(2)).await.unwrap();
    let first = store.claim("w", 1, LEASE).await.unwrap().remove(0);
    let retry_at = clock.wall() + Duration::from_secs(10);
    let failed = store.fail(first.id, 1, "boom", retry_at).await.unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.last_error.as_deref(), Some("boom"));
    assert_eq!(failed.run_at, retry_at);
    assert!(
        store.claim("w", 1, LEASE).await.unwrap().is_empty(),
        "not before retry_at"
    );
    clock.advance(Duration::from_secs(10));
    let second = store.claim("w", 1, LEASE).await.unwrap().remove(0);
    assert_eq!((second.id, second.attempt), (inserted.id, 2));
    let discarded = store
        .fail(second.id, 2, "boom again", clock.wall())
        .await
        .unwrap();
    assert_eq!(discarded.state, JobState::Discarded);
    assert_eq!(discarded.completed_at, Some(clock.wall()));
    assert!(store.claim("w", 1, LEASE).await.unwrap().is_empty());
}

/// A lease that ends is rescued as a failed attempt, a heartbeat keeps it, and the old worker's
/// late completion is refused.
pub async fn expired_leases_are_rescued_and_late_completions_refused<S: JobStore>(
    store: S,
    clock: ManualClock,
) {
    store.insert(job("kept")).await.unwrap();
    store.insert(job("lost")).await.unwrap();
    let claimed = store.claim("w1", 2, LEASE).await.unwrap();
    let (kept, lost) = (&claimed[0], &claimed[1]);
    clock.advance(LEASE / 2);
    store.heartbeat(kept.id, kept.attempt, LEASE).await.unwrap();
    assert!(is_conflict(
        store.heartbeat(kept.id, kept.attempt + 1, LEASE).await
    ));
    clock.advance(LEASE / 2);
    let rescued = store.rescue_expired(clock.wall()).await.unwrap();
    assert_eq!(rescued.len(), 1, "only the lease without a heartbeat ended");
    assert_eq!(rescued[0].id, lost.id);
    assert_eq!(rescued[0].state, JobState::Failed);
    assert_eq!(rescued[0].last_error.as_deref(), Some("lease expired"));
    let again = store.claim("w2", 10, LEASE).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id, again[0].attempt), (lost.id, 2));
    assert!(
        is_conflict(store.complete(lost.id, lost.attempt).await),
        "the first worker's late completion is refused"
    );
    store.complete(lost.id, 2).await.unwrap();
    store.complete(kept.id, kept.attempt).await.unwrap();
}

/// Cancelling stops a job that has not finished, and only such a job.
pub async fn cancel_stops_a_job_and_fences_its_worker<S: JobStore>(store: S, _clock: ManualClock) {
    let waiting = store.insert(job("waiting")).await.unwrap();
    let cancelled = store.cancel(waiting.id).await.unwrap();
    assert_eq!(cancelled.state, JobState::Cancelled);
    assert!(store.claim("w", 10, LEASE).await.unwrap().is_empty());
    store.insert(job("running")).await.unwrap();
    let running = store.claim("w", 1, LEASE).await.unwrap().remove(0);
    store.cancel(running.id).await.unwrap();
    assert!(is_conflict(
        store.complete(running.id, running.attempt).await
    ));
    assert!(
        is_conflict(store.cancel(running.id).await),
        "already cancelled"
    );
}

/// Pages with a cursor return every matching job exactly once, in id order; counts add up.
pub async fn list_pages_through_matching_jobs_once<S: JobStore>(store: S, clock: ManualClock) {
    let mut acme = Vec::new();
    for i in 0..7 {
        let tenant = if i % 2 == 0 { "acme" } else { "other" };
        let job = store.insert(job("report").tenant(tenant)).await.unwrap();
        if tenant == "acme" {
            acme.push(job.id);
        }
        clock.advance(Duration::from_millis(1));
    }
    store.insert(job("email").tenant("acme")).await.unwrap();
    let filter = ListFilter {
        tenant: Some("acme".into()),
        name: Some("report".into()),
        ..ListFilter::default()
    };
    let (mut seen, mut cursor) = (Vec::new(), None);
    loop {
        let page = store.list(filter.clone(), cursor, 2).await.unwrap();
        assert!(page.jobs.len() <= 2);
        seen.extend(page.jobs.iter().map(|j| j.id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, acme, "every matching job once, in id order");
    store.claim("w", 3, LEASE).await.unwrap();
    let counts = store.count_by_state().await.unwrap();
    assert_eq!(
        counts,
        BTreeMap::from([(JobState::Available, 5), (JobState::Running, 3)])
    );
}

/// A delay or lease too long for the clock saturates (the job waits, the lease holds) instead of
/// failing, and the store keeps working.
pub async fn huge_durations_mean_never<S: JobStore>(store: S, clock: ManualClock) {
    let never = store
        .insert(job("never").delay(Duration::MAX))
        .await
        .unwrap();
    assert_eq!(never.state, JobState::Scheduled);
    store.insert(job("now")).await.unwrap();
    let held = store.claim("w", 10, Duration::MAX).await.unwrap();
    assert_eq!(held.len(), 1, "only the job due now");
    clock.advance(Duration::from_secs(10 * 365 * 86_400));
    assert!(store.rescue_expired(clock.wall()).await.unwrap().is_empty());
    store
        .heartbeat(held[0].id, held[0].attempt, Duration::MAX)
        .await
        .unwrap();
    store.complete(held[0].id, held[0].attempt).await.unwrap();
    assert!(store.claim("w", 10, LEASE).await.unwrap().is_empty());
}

/// Claims racing from many tasks never hand the same job out twice.
pub async fn concurrent_claims_never_share_a_job<S: JobStore + Clone + 'static>(
    store: S,
    _clock: ManualClock,
) {
    let jobs = (0..200).map(|i| job(&format!("j{i}"))).collect();
    store.insert_batch(jobs).await.unwrap();
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = store.claim(&format!("w{w}"), 7, LEASE).await.unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.into_iter().map(|j| j.id));
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let mut all = HashSet::new();
    for worker in workers {
        for id in worker.await.unwrap() {
            assert!(all.insert(id), "job {id} was claimed twice");
        }
    }
    assert_eq!(all.len(), 200, "every job was claimed");
}
