use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use stanchion_core::{Clock, SystemClock};

use crate::job::{Job, JobId, JobState, NewJob};
use crate::store::{JobStore, ListFilter, Page, StoreError, rules};

/// A job store in memory, for tests and small programs: nothing survives the process.
///
/// One lock guards the jobs and their two claim indexes (runnable jobs by priority, waiting jobs
/// by `run_at`), so that a claim is atomic across them; operations hold it for microseconds and
/// never across an `.await`.
///
/// ```
/// use std::time::Duration;
/// use stanchion_store::{JobStore, MemoryStore, NewJob};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let job = store.insert(NewJob::new("send_email", b"to=ada".to_vec())).await.unwrap();
/// let claimed = store.claim("worker-1", 10, Duration::from_secs(30)).await.unwrap();
/// assert_eq!(claimed[0].id, job.id);
/// store.complete(job.id, claimed[0].attempt).await.unwrap();
/// # });
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    clock: Arc<dyn Clock>,
}

/// Claim order: highest priority, then earliest `run_at`, then lowest id.
type ReadyKey = (Reverse<i16>, SystemTime, JobId);

#[derive(Default)]
struct Inner {
    jobs: BTreeMap<JobId, Job>,
    /// Runnable jobs whose `run_at` had passed when they were indexed.
    ready: BTreeSet<ReadyKey>,
    /// Claimable jobs waiting for their `run_at`.
    waiting: BTreeSet<(SystemTime, JobId)>,
}

impl Inner {
    fn index(&mut self, job: &Job, now: SystemTime) {
        if !job.state.is_claimable() {
            return;
        }
        if job.run_at <= now {
            self.ready
                .insert((Reverse(job.priority), job.run_at, job.id));
        } else {
            self.waiting.insert((job.run_at, job.id));
        }
    }

    fn unindex(&mut self, job: &Job) {
        self.ready
            .remove(&(Reverse(job.priority), job.run_at, job.id));
        self.waiting.remove(&(job.run_at, job.id));
    }

    /// Moves jobs whose `run_at` has come from `waiting` to `ready`.
    fn promote(&mut self, now: SystemTime) {
        while let Some(&(run_at, id)) = self.waiting.first() {
            if run_at > now {
                break;
            }
            self.waiting.pop_first();
            let job = &self.jobs[&id];
            self.ready.insert((Reverse(job.priority), run_at, id));
        }
    }

    fn job_mut(&mut self, id: JobId) -> Result<&mut Job, StoreError> {
        self.jobs.get_mut(&id).ok_or(StoreError::NotFound(id))
    }

    /// Applies `change` to job `id`, keeping the indexes in step.
    fn update(
        &mut self,
        id: JobId,
        now: SystemTime,
        change: impl FnOnce(&mut Job) -> Result<(), StoreError>,
    ) -> Result<Job, StoreError> {
        let job = self.job_mut(id)?;
        let mut updated = job.clone();
        change(&mut updated)?;
        let old = std::mem::replace(job, updated.clone());
        self.unindex(&old);
        self.index(&updated, now);
        Ok(updated)
    }
}

impl MemoryStore {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty store reading time from `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::default(),
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> SystemTime {
        self.clock.wall()
    }

    fn change(
        &self,
        id: JobId,
        change: impl FnOnce(&mut Job, SystemTime) -> Result<(), StoreError>,
    ) -> Result<Job, StoreError> {
        let now = self.now();
        self.lock().update(id, now, |job| change(job, now))
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("jobs", &self.lock().jobs.len())
            .finish_non_exhaustive()
    }
}

impl JobStore for MemoryStore {
    async fn insert_batch(&self, jobs: Vec<NewJob>) -> Result<Vec<Job>, StoreError> {
        let now = self.now();
        let jobs: Vec<Job> = jobs.into_iter().map(|j| j.into_job(now)).collect();
        let mut inner = self.lock();
        for job in &jobs {
            inner.index(job, now);
            inner.jobs.insert(job.id, job.clone());
        }
        Ok(jobs)
    }

    async fn get(&self, id: JobId) -> Result<Job, StoreError> {
        self.lock()
            .jobs
            .get(&id)
            .cloned()
            .ok_or(StoreError::NotFound(id))
    }

    async fn get_many(&self, ids: Vec<JobId>) -> Result<Vec<Option<Job>>, StoreError> {
        let inner = self.lock();
        Ok(ids.iter().map(|id| inner.jobs.get(id).cloned()).collect())
    }

    async fn list(
        &self,
        filter: ListFilter,
        cursor: Option<JobId>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        use std::ops::Bound::{Excluded, Unbounded};
        let inner = self.lock();
        let start = cursor.map_or(Unbounded, Excluded);
        let mut matching = inner
            .jobs
            .range((start, Unbounded))
            .map(|(_, job)| job)
            .filter(|job| filter.matches(job));
        let jobs: Vec<Job> = matching.by_ref().take(limit).cloned().collect();
        let more = matching.next().is_some();
        Ok(Page::new(jobs, more))
    }

    async fn count_by_state(&self) -> Result<BTreeMap<JobState, u64>, StoreError> {
        let mut counts = BTreeMap::new();
        for job in self.lock().jobs.values() {
            *counts.entry(job.state).or_default() += 1;
        }
        Ok(counts)
    }

    async fn claim(
        &self,
        worker: &str,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<Job>, StoreError> {
        let now = self.now();
        let worker: Arc<str> = worker.into();
        let mut inner = self.lock();
        inner.promote(now);
        let mut claimed = Vec::with_capacity(max.min(inner.ready.len()));
        while claimed.len() < max {
            let Some((_, _, id)) = inner.ready.pop_first() else {
                break;
            };
            let job = inner.job_mut(id)?;
            rules::claim(job, &worker, now, lease);
            claimed.push(job.clone());
        }
        Ok(claimed)
    }

    async fn heartbeat(&self, id: JobId, attempt: u32, lease: Duration) -> Result<Job, StoreError> {
        self.change(id, rules::heartbeat(attempt, lease))
    }

    async fn complete(&self, id: JobId, attempt: u32) -> Result<Job, StoreError> {
        self.change(id, rules::complete_attempt(attempt))
    }

    async fn fail(
        &self,
        id: JobId,
        attempt: u32,
        error: &str,
        retry_at: SystemTime,
    ) -> Result<Job, StoreError> {
        self.change(id, rules::fail_attempt(attempt, error, retry_at))
    }

    async fn cancel(&self, id: JobId) -> Result<Job, StoreError> {
        self.change(id, rules::cancel)
    }

    async fn rescue_expired(&self, now: SystemTime) -> Result<Vec<Job>, StoreError> {
        let clock_now = self.now();
        let mut inner = self.lock();
        let expired: Vec<JobId> = inner
            .jobs
            .values()
            .filter(|job| rules::expired(job, now))
            .map(|job| job.id)
            .collect();
        expired
            .into_iter()
            // Indexed at the clock's time: a caller's `now` ahead of it must not make the
            // rescued job claimable early.
            .map(|id| inner.update(id, clock_now, |job| rules::rescue(job, now)))
            .collect()
    }
}
