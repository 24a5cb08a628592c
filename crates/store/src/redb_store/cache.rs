//! The read-through cache, and the epochs that keep a slow reader from caching a stale job.
//!
//! The writer, after each commit, bumps the epoch of every job it changed and caches the new
//! version, both under the job's stripe lock. A reader that missed notes the job's epoch before it
//! opens its snapshot, and caches what it read only if, under the same lock, the epoch has not
//! moved: a moved epoch means a commit landed since, and the snapshot may predate it. So a stale
//! version never enters the cache, not even for a moment.

use stanchion_cache::Cache;
use stanchion_core::sync::{Mutex, lock};

use crate::job::{Job, JobId};

/// Epochs are striped: a commit touching one job moves 1/64 of the readers to a second read.
const STRIPES: usize = 64;

pub(super) struct ReadCache {
    jobs: Option<Cache<JobId, Job>>,
    epochs: [Mutex<u64>; STRIPES],
}

impl ReadCache {
    /// A cache of `capacity` jobs; none when zero.
    pub(super) fn new(capacity: u64) -> Self {
        Self {
            jobs: (capacity > 0).then(|| Cache::new(capacity)),
            epochs: std::array::from_fn(|_| Mutex::new(0)),
        }
    }

    fn stripe(&self, id: JobId) -> &Mutex<u64> {
        // The low bits of a UUID v7 are random.
        &self.epochs[id.0.as_u128() as usize % STRIPES]
    }

    pub(super) fn get(&self, id: JobId) -> Option<Job> {
        self.jobs.as_ref()?.get(&id)
    }

    /// The epoch to pass to [`ReadCache::fill`]; read it before opening the snapshot.
    pub(super) fn epoch(&self, id: JobId) -> u64 {
        *lock(self.stripe(id))
    }

    /// Caches `job`, read from a snapshot opened after [`ReadCache::epoch`] returned `epoch`.
    pub(super) fn fill(&self, job: &Job, epoch: u64) {
        let Some(jobs) = &self.jobs else { return };
        let current = lock(self.stripe(job.id));
        if *current == epoch {
            jobs.insert(job.id, job.clone());
        }
    }

    /// Caches the jobs a commit changed, oldest version first.
    pub(super) fn committed(&self, changed: Vec<Job>) {
        let Some(jobs) = &self.jobs else { return };
        for job in changed {
            let mut epoch = lock(self.stripe(job.id));
            *epoch += 1;
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
        assert_eq!(
            cache.get(old.id),
            Some(new),
            "the stale fill was not cached"
        );
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
