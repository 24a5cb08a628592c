use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, SystemTime};

use thiserror::Error;

use crate::job::{Job, JobId, JobState, NewJob};

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No job has this id.
    #[error("stanchion-store: no job {0}")]
    NotFound(JobId),
    /// The job is not in a state (or attempt) that allows the operation: a stale worker's
    /// completion, a second completion, cancelling a finished job.
    #[error("stanchion-store: job {id}: {reason}")]
    Conflict {
        /// The job.
        id: JobId,
        /// What did not match.
        reason: String,
    },
    /// The storage engine failed.
    #[error("stanchion-store: storage: {0}")]
    Storage(String),
    /// A stored job could not be decoded.
    #[error("stanchion-store: codec: {0}")]
    Codec(String),
    /// A builder was given a setting it cannot use; nothing was opened.
    #[error("stanchion-store: invalid configuration: {0}")]
    Config(String),
}

/// Which jobs [`JobStore::list`] returns; every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Jobs in this state.
    pub state: Option<JobState>,
    /// Jobs of this tenant.
    pub tenant: Option<String>,
    /// Jobs with this name.
    pub name: Option<String>,
    /// Jobs created at or after this time.
    pub created_from: Option<SystemTime>,
    /// Jobs created before this time.
    pub created_until: Option<SystemTime>,
}

impl ListFilter {
    /// Whether `job` matches.
    pub fn matches(&self, job: &Job) -> bool {
        self.state.is_none_or(|s| job.state == s)
            && self
                .tenant
                .as_deref()
                .is_none_or(|t| job.tenant.as_deref() == Some(t))
            && self.name.as_deref().is_none_or(|n| &*job.name == n)
            && self.created_from.is_none_or(|t| job.created_at >= t)
            && self.created_until.is_none_or(|t| job.created_at < t)
    }
}

/// One page of [`JobStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The jobs, in id (creation) order.
    pub jobs: Vec<Job>,
    /// Pass this as the cursor for the next page; `None` on the last page.
    pub next: Option<JobId>,
}

impl Page {
    /// The page of `jobs` (at most the limit), given whether more matching jobs follow.
    pub(crate) fn new(jobs: Vec<Job>, more: bool) -> Self {
        let next = if more {
            jobs.last().map(|j| j.id)
        } else {
            None
        };
        Self { jobs, next }
    }
}

/// Job storage: one contract for every adapter, checked by the conformance suite.
///
/// Time comes from the store's clock. A job is *runnable* when it is `Scheduled`, `Available` or
/// `Failed` and its `run_at` has passed.
pub trait JobStore: Send + Sync {
    /// Stores a new job (`Scheduled` if its `run_at` is in the future, `Available` otherwise).
    ///
    /// The default is a batch of one.
    fn insert(&self, job: NewJob) -> impl Future<Output = Result<Job, StoreError>> + Send {
        async move { Ok(self.insert_batch(vec![job]).await?.remove(0)) }
    }

    /// Stores several jobs atomically: all or none.
    fn insert_batch(
        &self,
        jobs: Vec<NewJob>,
    ) -> impl Future<Output = Result<Vec<Job>, StoreError>> + Send;

    /// The job `id`, or [`StoreError::NotFound`].
    fn get(&self, id: JobId) -> impl Future<Output = Result<Job, StoreError>> + Send;

    /// The jobs `ids`, in the same order, `None` where there is no such job.
    fn get_many(
        &self,
        ids: Vec<JobId>,
    ) -> impl Future<Output = Result<Vec<Option<Job>>, StoreError>> + Send;

    /// Up to `limit` jobs matching `filter` with ids after `cursor`, in id order.
    fn list(
        &self,
        filter: ListFilter,
        cursor: Option<JobId>,
        limit: usize,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send;

    /// How many jobs are in each state (states with none are left out).
    fn count_by_state(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<JobState, u64>, StoreError>> + Send;

    /// Atomically leases up to `max` runnable jobs to `worker` for `lease`: highest priority
    /// first, then earliest `run_at`, then lowest id. Each becomes `Running` with `attempt`
    /// incremented. No job is ever handed to two claims.
    fn claim(
        &self,
        worker: &str,
        max: usize,
        lease: Duration,
    ) -> impl Future<Output = Result<Vec<Job>, StoreError>> + Send;

    /// Extends the lease of a running job to `lease` from now. [`StoreError::Conflict`] unless it
    /// is `Running` at `attempt`.
    fn heartbeat(
        &self,
        id: JobId,
        attempt: u32,
        lease: Duration,
    ) -> impl Future<Output = Result<Job, StoreError>> + Send;

    /// Marks a running job `Succeeded`. [`StoreError::Conflict`] unless it is `Running` at
    /// `attempt`: a worker whose lease expired cannot complete the job's newer attempt.
    fn complete(
        &self,
        id: JobId,
        attempt: u32,
    ) -> impl Future<Output = Result<Job, StoreError>> + Send;

    /// Records a failed attempt: `Failed` to run again at `retry_at`, or `Discarded` when it was
    /// the last allowed attempt. [`StoreError::Conflict`] unless it is `Running` at `attempt`.
    fn fail(
        &self,
        id: JobId,
        attempt: u32,
        error: &str,
        retry_at: SystemTime,
    ) -> impl Future<Output = Result<Job, StoreError>> + Send;

    /// Cancels a job that has not finished (a running job's worker then gets
    /// [`StoreError::Conflict`] when it completes). [`StoreError::Conflict`] if it already
    /// finished.
    fn cancel(&self, id: JobId) -> impl Future<Output = Result<Job, StoreError>> + Send;

    /// Treats every running job whose lease ended at or before `now` as a failed attempt
    /// ("lease expired"): `Failed` and runnable at once, or `Discarded` on its last attempt.
    /// Returns the rescued jobs.
    fn rescue_expired(
        &self,
        now: SystemTime,
    ) -> impl Future<Output = Result<Vec<Job>, StoreError>> + Send;
}

/// The transitions every adapter applies, so that they agree by construction.
pub(crate) mod rules {
    use super::*;
    use std::sync::Arc;

    use crate::job::Lease;

    fn conflict(job: &Job, reason: impl Into<String>) -> StoreError {
        StoreError::Conflict {
            id: job.id,
            reason: reason.into(),
        }
    }

    /// Checks that `job` is running at `attempt`.
    pub(crate) fn running_at(job: &Job, attempt: u32) -> Result<(), StoreError> {
        if job.state != JobState::Running {
            return Err(conflict(job, format!("is {:?}, not Running", job.state)));
        }
        if job.attempt != attempt {
            return Err(conflict(
                job,
                format!(
                    "attempt {attempt} is stale; the job is at attempt {}",
                    job.attempt
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn claim(job: &mut Job, worker: &Arc<str>, now: SystemTime, lease: Duration) {
        job.state = JobState::Running;
        job.attempt += 1;
        job.started_at = Some(now);
        job.lease = Some(Lease {
            worker: Arc::clone(worker),
            until: crate::job::later(now, lease),
        });
    }

    pub(crate) fn complete(job: &mut Job, now: SystemTime) {
        job.state = JobState::Succeeded;
        job.completed_at = Some(now);
        job.lease = None;
    }

    pub(crate) fn fail(job: &mut Job, error: &str, retry_at: SystemTime, now: SystemTime) {
        job.lease = None;
        job.last_error = Some(error.into());
        if job.attempt >= job.max_attempts {
            job.state = JobState::Discarded;
            job.completed_at = Some(now);
        } else {
            job.state = JobState::Failed;
            job.run_at = retry_at;
        }
    }

    /// What `heartbeat(id, attempt, lease)` does to the job.
    pub(crate) fn heartbeat(attempt: u32, lease: Duration) -> impl Change {
        move |job: &mut Job, now: SystemTime| {
            running_at(job, attempt)?;
            if let Some(held) = &mut job.lease {
                held.until = crate::job::later(now, lease);
            }
            Ok(())
        }
    }

    /// What `complete(id, attempt)` does to the job.
    pub(crate) fn complete_attempt(attempt: u32) -> impl Change {
        move |job: &mut Job, now: SystemTime| {
            running_at(job, attempt)?;
            complete(job, now);
            Ok(())
        }
    }

    /// What `fail(id, attempt, error, retry_at)` does to the job.
    pub(crate) fn fail_attempt(attempt: u32, error: &str, retry_at: SystemTime) -> impl Change {
        let error: Box<str> = error.into();
        move |job: &mut Job, now: SystemTime| {
            running_at(job, attempt)?;
            fail(job, &error, retry_at, now);
            Ok(())
        }
    }

    /// What `rescue_expired` does to a job whose lease ended.
    pub(crate) fn rescue(job: &mut Job, now: SystemTime) -> Result<(), StoreError> {
        fail(job, "lease expired", now, now);
        Ok(())
    }

    /// A checked change to one job: it fails without changing the job, or applies at `now`.
    pub(crate) trait Change:
        FnOnce(&mut Job, SystemTime) -> Result<(), StoreError> + Send + 'static
    {
    }

    impl<F> Change for F where F: FnOnce(&mut Job, SystemTime) -> Result<(), StoreError> + Send + 'static
    {}

    pub(crate) fn cancel(job: &mut Job, now: SystemTime) -> Result<(), StoreError> {
        if job.state.is_final() {
            return Err(conflict(job, format!("is already {:?}", job.state)));
        }
        job.state = JobState::Cancelled;
        job.completed_at = Some(now);
        job.lease = None;
        Ok(())
    }

    /// Whether a running job's lease has ended by `now`.
    pub(crate) fn expired(job: &Job, now: SystemTime) -> bool {
        job.state == JobState::Running && job.lease.as_ref().is_some_and(|l| l.until <= now)
    }
}
