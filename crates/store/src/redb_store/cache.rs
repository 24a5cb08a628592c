//! The read-through cache, and the epochs that keep a slow reader from caching a stale job.
//!
//! The writer, after each commit, bumps the epoch of every job it wrote and then caches the new
//! version. A reader that missed notes the job's epoch before it opens its snapshot, caches what
//! it read, and takes it out again if the epoch moved meanwhile: its snapshot may predate the
//! commit, and its insert may have landed after the writer's. If the epoch did not move, the
//! writer's bump comes after the reader's check, so its insert of the newer version comes after
//! the reader's too. Either way the cache ends with the newest committed version or nothing.

use std::sync::atomic::{AtomicU64, Ordering};

use stanchion_cache::Cache;

use crate::job::{Job, JobId};

/// Epochs are striped: a commit touching one job moves 1/64 of the readers to a second read.
const STRIPES: usize = 64;

pub(super) struct ReadCache {
    jobs: Option<Cache<JobId, Job>>,
    epochs: [AtomicU64; STRIPES],
}

impl ReadCache {
    /// A cache of `capacity` jobs; none when zero.
    pub(super) fn new(capacity: u64) -> Self {
        Self {
            jobs: (capacity > 0).then(|| Cache::new(capacity)),
            epochs: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    fn stripe(&self, id: JobId) -> &AtomicU64 {
        // The low bits of a UUID v7 are random.
        &self.epochs[id.0.as_u128() as usize % STRIPES]
    }

    pub(super) fn get(&self, id: JobId) -> Option<Job> {
        self.jobs.as_ref()?.get(&id)
    }

    /// The epoch to pass to [`ReadCache::fill`]; read it before opening the snapshot.
    pub(super) fn epoch(&self, id: JobId) -> u64 {
        self.stripe(id).load(Ordering::Acquire)
    }

    /// Caches `job`, read from a snapshot opened after [`ReadCache::epoch`] returned `epoch`.
    pub(super) fn fill(&self, job: &Job, epoch: u64) {
        let Some(jobs) = &self.jobs else { return };
        jobs.insert(job.id, job.clone());
        if self.stripe(job.id).load(Ordering::Acquire) != epoch {
            jobs.invalidate(&job.id);
        }
    }

    /// Caches the jobs a commit wrote, oldest version first.
    pub(super) fn committed(&self, changed: Vec<Job>) {
        let Some(jobs) = &self.jobs else { return };
        for job in changed {
            self.stripe(job.id).fetch_add(1, Ordering::Release);
            jobs.insert(job.id, job);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::job::{JobState, NewJob};

    fn versions() -> (Job, Job) {
        let old = NewJob::new("j", vec![]).into_job(SystemTime::UNIX_EPOCH);
        let new = Job {
            state: JobState::Running,
            ..old.clone()
        };
        (old, new)
    }

    /// The reader's snapshot predates the commit, and its insert lands after the writer's.
    #[test]
    fn a_stale_fill_after_the_commit_is_taken_back() {
        let cache = ReadCache::new(10);
        let (old, new) = versions();
        let epoch = cache.epoch(old.id);
        cache.committed(vec![new.clone()]);
        cache.fill(&old, epoch);
        assert_ne!(cache.get(old.id), Some(old));
    }

    /// The reader's fill lands first; the writer's newer version replaces it.
    #[test]
    fn a_fill_before_the_commit_is_replaced() {
        let cache = ReadCache::new(10);
        let (old, new) = versions();
        let epoch = cache.epoch(old.id);
        cache.fill(&old, epoch);
        assert_eq!(
            cache.get(old.id),
            Some(old.clone()),
            "an undisturbed fill stays"
        );
        cache.committed(vec![new.clone()]);
        assert_eq!(cache.get(old.id), Some(new));
    }

    #[test]
    fn capacity_zero_caches_nothing() {
        let cache = ReadCache::new(0);
        let (old, new) = versions();
        cache.fill(&old, cache.epoch(old.id));
        cache.committed(vec![new]);
        assert_eq!(cache.get(old.id), None);
    }
}
