use std::fmt;
use std::time::Duration;

use crate::State;

/// A configuration the breaker cannot run with, naming the field and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid breaker configuration: {field} is {value}, expected {expected}")]
#[non_exhaustive]
pub struct ConfigError {
    /// The field, as named in [`BreakerConfig`](crate::BreakerConfig).
    pub field: &'static str,
    /// The value it was given.
    pub value: String,
    /// What it must be.
    pub expected: &'static str,
}

impl ConfigError {
    pub(crate) fn new(
        field: &'static str,
        value: impl fmt::Display,
        expected: &'static str,
    ) -> Self {
        Self {
            field,
            value: value.to_string(),
            expected,
        }
    }
}

/// A call the breaker refused, with the state that refused it and when to try again.
///
/// Cheap to make and to return: two words, no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    state: State,
    /// Nanoseconds until the wait in open ends; `UNKNOWN` when not known. Kept as one word rather
    /// than an `Option<Duration>` so the rejection path returns it in registers' worth of stores.
    retry_after: u64,
}

const UNKNOWN: u64 = u64::MAX;

impl Rejected {
    pub(crate) fn new(state: State, retry_after: Option<Duration>) -> Self {
        let retry_after = retry_after.map_or(UNKNOWN, |d| {
            u64::try_from(d.as_nanos()).unwrap_or(UNKNOWN - 1)
        });
        Self { state, retry_after }
    }

    /// The state that refused the call: `Open`, `HalfOpen` (every trial slot taken) or `ForcedOpen`.
    pub fn state(&self) -> State {
        self.state
    }

    /// How long until an open breaker lets trial calls through; `None` when it is not known
    /// (half-open, forced open).
    pub fn retry_after(&self) -> Option<Duration> {
        (self.retry_after != UNKNOWN).then(|| Duration::from_nanos(self.retry_after))
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "circuit breaker is {} and refused the call", self.state)?;
        if let Some(after) = self.retry_after() {
            write!(f, "; retry after {after:?}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejected {}

/// What a call through the breaker can end in besides success.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError<E> {
    /// The breaker refused the call; the operation did not run.
    #[error(transparent)]
    Rejected(Rejected),
    /// The operation ran and failed.
    #[error("{0}")]
    Inner(E),
}

impl<E> CallError<E> {
    /// The operation's own error, if it ran and failed.
    pub fn into_inner(self) -> Option<E> {
        match self {
            Self::Inner(error) => Some(error),
            Self::Rejected(_) => None,
        }
    }

    /// Whether the breaker refused the call.
    pub fn is_rejected(&self) -> bool {
        matches!(self, Self::Rejected(_))
    }
}

/// An operator transition the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker cannot go from {from} to {to}")]
pub struct TransitionError {
    /// The state it was in.
    pub from: State,
    /// The state that was asked for.
    pub to: State,
}
