//! Hooks at named points: a registry read without a lock, and an executor that runs each hook
//! through its own circuit breaker, an enforced timeout and an optional result cache, with latency
//! metrics and events on the bus.
//!
//! ```
//! use std::time::Duration;
//! use stanchion_hooks::{Action, Hook, HookExecutor, HookOptions, HookRegistry, HookResult, Outcome};
//!
//! #[derive(Clone, Debug, PartialEq)]
//! struct ToolUse { tool: String, args: Vec<String> }
//!
//! struct SlowScanner;
//!
//! impl Hook<ToolUse> for SlowScanner {
//!     async fn call(&self, _: &ToolUse) -> HookResult<ToolUse> {
//!         tokio::time::sleep(Duration::from_secs(5)).await;
//!         Ok(Action::Continue)
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
//! let registry = HookRegistry::new();
//! registry.register_fn(
//!     "pre_tool_use",
//!     |ctx: &ToolUse| match ctx.tool.as_str() {
//!         "rm" => Ok(Action::cancel("rm is not allowed")),
//!         _ => Ok(Action::Continue),
//!     },
//!     HookOptions { priority: -10, ..HookOptions::new("deny-rm") },
//! )?;
//! registry.register(
//!     "pre_tool_use",
//!     SlowScanner,
//!     HookOptions { timeout: Some(Duration::from_millis(100)), ..HookOptions::new("scanner") },
//! )?;
//!
//! let executor = HookExecutor::new(registry.clone());
//! let report = executor
//!     .run("pre_tool_use", ToolUse { tool: "ls".into(), args: vec![] })
//!     .await?;
//! assert_eq!(report.hooks[0].outcome, Outcome::Continued);
//! assert_eq!(report.hooks[1].outcome, Outcome::TimedOut(Duration::from_millis(100)));
//! assert!(!report.is_success());
//! assert_eq!(registry.hook_metrics("pre_tool_use", "scanner").unwrap().timeouts, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Semantics
//!
//! - **Order**: lower [`priority`](HookOptions::priority) first, equal priorities in registration
//!   order.
//! - **Sequential** points (the default) are a waterfall: each hook sees the context as the
//!   previous one left it; [`Action::Cancel`] stops the run. **Parallel** points run every hook
//!   on the same input at once and merge results in priority order ([`Mode`]).
//! - **Failures**: an error, a panic or a timeout is a failure: it counts against the hook's
//!   breaker and marks the run [`RunStatus::Failed`]; [`FailurePolicy`] decides whether the
//!   remaining hooks run.
//! - **Timeouts** are enforced: an async hook's future is dropped when its timeout passes. A sync
//!   hook runs inline and cannot be interrupted; if it overran, its result is discarded.
//! - **Breakers**: each hook gets its own [`CircuitBreaker`](stanchion_breaker::CircuitBreaker),
//!   made once at registration. An open breaker never silently skips a hook: the report says
//!   [`Outcome::Rejected`], and [`ExecutorBuilder::rejection_fails_run`] decides whether that
//!   fails the run.
//! - **Cache**: a hook with a [`cache_ttl`](HookOptions::cache_ttl) has its actions (not its
//!   errors) kept per input digest, so the same input skips the call.
//! - **Validation**: a point's [`validator`](PointConfig::validator) refuses bad input with
//!   [`RunError::Invalid`] before any hook runs.
//! - **Registry reads take no lock**: runs load an immutable snapshot, which registration
//!   replaces; a run in flight keeps the hooks it started with.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod events;
mod executor;
mod hook;
mod metrics;
mod options;
mod registry;
mod report;

pub use events::HookEvent;
pub use executor::{ConfigError, ExecutorBuilder, FailurePolicy, HookExecutor};
pub use hook::{Action, Hook, HookError, HookResult};
pub use metrics::{HookMetrics, Latency, PointMetrics};
pub use options::{HookOptions, Mode, PointConfig};
pub use registry::{HookHandle, HookRegistry, RegisterError, RegistryBuilder};
pub use report::{HookRun, Outcome, RunError, RunReport, RunStatus};

// The examples in the README and the guide run as doctests, so they cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
#[doc = include_str!("../../../docs/hooks.md")]
struct DocumentationExamples;
