use crate::State;

/// A snapshot of a breaker's counts: the closed window's, or the half-open episode's while
/// half-open.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Metrics {
    /// The state when the snapshot was taken.
    pub state: State,
    /// Failures per hundred calls in the window; `None` below the minimum number of calls.
    pub failure_rate: Option<f32>,
    /// Slow calls per hundred calls in the window; `None` below the minimum number of calls.
    pub slow_call_rate: Option<f32>,
    /// Outcomes in the window.
    pub buffered_calls: u32,
    /// Failures in the window.
    pub failed_calls: u32,
    /// Slow calls (failed or not) in the window.
    pub slow_calls: u32,
    /// Calls refused since the breaker was made or reset.
    pub not_permitted_calls: u64,
}
