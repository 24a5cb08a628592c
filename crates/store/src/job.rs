use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A job's id: a UUID v7, so ids sort by creation time.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JobId(pub Uuid);

impl JobId {
    /// A new id for now.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JobId({})", self.0)
    }
}

/// Where a job is in its life.
///
/// ```text
/// Scheduled ─(run_at passes)─┐
/// Available ─────────────────┴─ claim ─> Running ─ complete ─> Succeeded
///                                          │  └──── fail ─────> Failed ─(run_at passes, claim)─> Running
///                                          │                    └─(attempts used up)─> Discarded
///                                          └─ lease expires ─ rescue_expired ─> Failed / Discarded
/// any state but Succeeded and Discarded ─ cancel ─> Cancelled
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum JobState {
    /// Waiting for `run_at`.
    Scheduled,
    /// Ready to be claimed.
    Available,
    /// Claimed by a worker holding a lease.
    Running,
    /// Done.
    Succeeded,
    /// Its last attempt failed; it runs again once `run_at` passes.
    Failed,
    /// Cancelled before it finished.
    Cancelled,
    /// Failed on its last allowed attempt.
    Discarded,
}

impl JobState {
    /// Every state, in declaration order.
    pub const ALL: [JobState; 7] = [
        JobState::Scheduled,
        JobState::Available,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
        JobState::Discarded,
    ];

    /// Whether the job will never run again.
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Cancelled | JobState::Discarded
        )
    }

    /// Whether a claim may take the job once its `run_at` has passed.
    pub const fn is_claimable(self) -> bool {
        matches!(
            self,
            JobState::Scheduled | JobState::Available | JobState::Failed
        )
    }
}

/// A running job's lease: who holds it, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The worker that claimed the job.
    pub worker: Arc<str>,
    /// When the lease expires unless renewed by a heartbeat.
    pub until: SystemTime,
}

/// A stored job. Cloning is cheap: names, payloads and errors are shared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// What kind of job it is, such as `send_email`.
    pub name: Arc<str>,
    /// The tenant it belongs to, if any.
    pub tenant: Option<Arc<str>>,
    /// Higher runs first.
    pub priority: i16,
    /// Where it is in its life.
    pub state: JobState,
    /// The job's arguments, as the application encoded them.
    pub payload: Arc<[u8]>,
    /// Attempts started so far; a claim increments it. Completions must carry it (fencing).
    pub attempt: u32,
    /// Attempts allowed before the job is discarded.
    pub max_attempts: u32,
    /// When it may run (first run or retry).
    pub run_at: SystemTime,
    /// When it was inserted.
    pub created_at: SystemTime,
    /// When its current or last attempt started.
    pub started_at: Option<SystemTime>,
    /// When it reached a final state.
    pub completed_at: Option<SystemTime>,
    /// The lease while running.
    pub lease: Option<Lease>,
    /// The error of the last failed attempt.
    pub last_error: Option<Arc<str>>,
}

/// A job to insert: `NewJob::new("send_email", payload).priority(5).tenant("acme")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub(crate) name: Arc<str>,
    pub(crate) tenant: Option<Arc<str>>,
    pub(crate) priority: i16,
    pub(crate) payload: Arc<[u8]>,
    pub(crate) max_attempts: u32,
    pub(crate) run_at: Option<SystemTime>,
    pub(crate) delay: Duration,
}

impl NewJob {
    /// A job named `name` with `payload`, priority 0, 3 attempts, runnable now.
    pub fn new(name: impl Into<Arc<str>>, payload: impl Into<Arc<[u8]>>) -> Self {
        Self {
            name: name.into(),
            tenant: None,
            priority: 0,
            payload: payload.into(),
            max_attempts: 3,
            run_at: None,
            delay: Duration::ZERO,
        }
    }

    /// The tenant it belongs to.
    pub fn tenant(mut self, tenant: impl Into<Arc<str>>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Higher runs first.
    pub fn priority(mut self, priority: i16) -> Self {
        self.priority = priority;
        self
    }

    /// Attempts allowed; at least 1.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Runs no earlier than `at`.
    pub fn run_at(mut self, at: SystemTime) -> Self {
        self.run_at = Some(at);
        self
    }

    /// Runs no earlier than `delay` after it is inserted.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The job this becomes when inserted at `now`.
    pub fn into_job(self, now: SystemTime) -> Job {
        let run_at = self.run_at.unwrap_or_else(|| later(now, self.delay));
        Job {
            id: JobId::new(),
            name: self.name,
            tenant: self.tenant,
            priority: self.priority,
            state: if run_at > now {
                JobState::Scheduled
            } else {
                JobState::Available
            },
            payload: self.payload,
            attempt: 0,
            max_attempts: self.max_attempts.max(1),
            run_at,
            created_at: now,
            started_at: None,
            completed_at: None,
            lease: None,
            last_error: None,
        }
    }
}

/// `at + by`, saturating at the year 9999: a lease or delay that long means "never", and every
/// adapter (PostgreSQL's `timestamptz` included) can store it.
pub(crate) fn later(at: SystemTime, by: Duration) -> SystemTime {
    let never = SystemTime::UNIX_EPOCH + Duration::from_secs(253_402_300_799);
    at.checked_add(by).map_or(never, |t| t.min(never))
}
