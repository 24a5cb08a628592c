//! What the executor tells the bus.

use std::sync::Arc;
use std::time::Duration;

use stanchion_breaker::State;

/// An event published on the registry's topic (see
/// [`RegistryBuilder::events`](crate::RegistryBuilder::events)). Events are built and published
/// only while the topic has a subscriber, and never waited for: a full topic drops them, counted
/// in its stats.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum HookEvent {
    /// A hook is about to run.
    Started {
        /// The point being run.
        point: Arc<str>,
        /// The hook.
        hook: Arc<str>,
    },
    /// A hook returned an action: continue, modify or cancel.
    Finished {
        /// The point being run.
        point: Arc<str>,
        /// The hook.
        hook: Arc<str>,
        /// How long it took.
        elapsed: Duration,
    },
    /// A hook failed, timed out or was refused by its breaker.
    Failed {
        /// The point being run.
        point: Arc<str>,
        /// The hook.
        hook: Arc<str>,
        /// What went wrong, as the report's [`Outcome`](crate::Outcome) displays it.
        reason: Arc<str>,
    },
    /// A hook's breaker changed state.
    Breaker {
        /// The hook's point.
        point: Arc<str>,
        /// The hook.
        hook: Arc<str>,
        /// The state it left.
        from: State,
        /// The state it entered.
        to: State,
    },
}
