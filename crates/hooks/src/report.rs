//! What a run returns: each hook's outcome and time, and how the run ended.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use stanchion_breaker::Rejected;

use crate::hook::HookError;

/// How one hook's call ended.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// It returned [`Action::Continue`](crate::Action::Continue).
    Continued,
    /// It returned [`Action::Modify`](crate::Action::Modify).
    Modified,
    /// It returned [`Action::Cancel`](crate::Action::Cancel) with this reason.
    Cancelled(Arc<str>),
    /// It returned an error or panicked (the error then says so).
    Failed(HookError),
    /// It passed its timeout and was cancelled (or, for a sync hook, its result discarded).
    TimedOut(Duration),
    /// Its breaker refused the call, which did not run. Whether this fails the run is the
    /// executor's choice: [`ExecutorBuilder::rejection_fails_run`](crate::ExecutorBuilder::rejection_fails_run).
    Rejected(Rejected),
}

impl Outcome {
    /// Whether the hook ran and returned an action.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Continued | Self::Modified | Self::Cancelled(_))
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Continued => f.write_str("continued"),
            Self::Modified => f.write_str("modified the context"),
            Self::Cancelled(reason) => write!(f, "cancelled the run: {reason}"),
            Self::Failed(error) => write!(f, "failed: {error}"),
            Self::TimedOut(limit) => write!(f, "timed out after {limit:?}"),
            Self::Rejected(rejected) => write!(f, "not run: {rejected}"),
        }
    }
}

/// One hook's part in a run.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HookRun {
    /// The hook's name.
    pub name: Arc<str>,
    /// How it ended.
    pub outcome: Outcome,
    /// How long it ran (zero when it did not: cached or rejected).
    pub elapsed: Duration,
    /// Whether the outcome came from the result cache.
    pub cached: bool,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RunStatus {
    /// Every hook that ran succeeded.
    Completed,
    /// A hook cancelled the run.
    Cancelled {
        /// The hook.
        by: Arc<str>,
        /// Its reason.
        reason: Arc<str>,
    },
    /// A hook failed or timed out (or was rejected, if the executor counts rejections), and no
    /// hook cancelled. Under [`FailurePolicy::Continue`](crate::FailurePolicy::Continue) the
    /// later hooks still ran.
    Failed {
        /// The first hook that failed.
        by: Arc<str>,
    },
}

/// The result of [`HookExecutor::run`](crate::HookExecutor::run).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RunReport<C> {
    /// The context after the run: the input with the modifications applied (in parallel mode, the
    /// input itself when the run was cancelled or failed).
    pub context: C,
    /// Every enabled hook the run reached, in run order, including those answered from the cache
    /// or refused by their breaker. Disabled hooks, and hooks after a cancel or a bail, are not
    /// listed.
    pub hooks: Vec<HookRun>,
    /// How the run ended.
    pub status: RunStatus,
    /// How long the whole run took.
    pub elapsed: Duration,
}

impl<C> RunReport<C> {
    /// Whether the run completed with every hook succeeding.
    pub fn is_success(&self) -> bool {
        self.status == RunStatus::Completed
    }

    /// The calls that did not succeed, including rejections whatever the executor's policy.
    pub fn failures(&self) -> impl Iterator<Item = &HookRun> {
        self.hooks.iter().filter(|run| !run.outcome.is_success())
    }
}

/// A run that could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The point's validator refused the input; no hook ran.
    #[error("invalid input for point {point:?}: {reason}")]
    Invalid {
        /// The point.
        point: Arc<str>,
        /// The validator's reason.
        reason: String,
    },
}
