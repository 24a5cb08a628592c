//! A circuit breaker with resilience4j's semantics, fast enough to wrap every call.
//!
//! ```
//! use std::time::Duration;
//! use stanchion_breaker::{CircuitBreaker, SlidingWindow, WaitInOpen};
//!
//! let breaker = CircuitBreaker::builder()
//!     .failure_rate_threshold(50.0)
//!     .sliding_window(SlidingWindow::Count(20))
//!     .minimum_calls(10)
//!     .wait_in_open(WaitInOpen::exponential(Duration::from_secs(5), 2.0, Duration::from_secs(60)))
//!     .build()?;
//!
//! let reply = breaker.call(|| Ok::<_, std::io::Error>("pong"));
//! assert_eq!(reply.unwrap(), "pong");
//! # Ok::<(), stanchion_breaker::ConfigError>(())
//! ```
//!
//! # Semantics
//!
//! - **Closed**: calls pass; each outcome goes into a sliding window, the last `n` calls
//!   ([`SlidingWindow::Count`]) or the last `n` seconds ([`SlidingWindow::Time`]). After every
//!   outcome, successes included, the rules are evaluated: once the window holds
//!   `minimum_calls` outcomes, a failure rate or slow-call rate at or above its threshold opens the
//!   breaker; so does the optional consecutive-failures rule.
//! - **Open**: calls are refused with [`Rejected`], which says when to retry. The wait comes from
//!   [`WaitInOpen`] and grows on each re-opening. The first request after it moves the breaker to
//!   half-open (no timer thread).
//! - **Half-open**: up to `permitted_calls_in_half_open` trial calls are admitted, each holding a
//!   permit; a permit dropped without an outcome (a cancelled future, a panic) frees its slot. After
//!   `min(minimum_calls, permitted_calls_in_half_open)` outcomes, counted in a fresh window, the
//!   rates decide: at or above a threshold reopens, below closes. `max_wait_in_half_open` reopens a
//!   breaker whose trial calls never finish.
//! - **Disabled**, **ForcedOpen**, **MetricsOnly**: operator states that always permit without
//!   counting, always refuse, or permit and count without ever changing state. Closed to half-open
//!   is the one transition refused.
//! - An outcome reported after the breaker changed state counts toward nothing but events (one
//!   finishing in the very instant of the change may land in the new window).
//!
//! [`Classifier`] decides which errors are failures and which are ignored; ignore wins over
//! record. Events ([`BreakerEvent`]) reach callbacks registered with
//! [`CircuitBreaker::on_event`], at no cost while there are none.
//!
//! # Around the breaker
//!
//! - [`Retry`]: attempts (the first call counts), exponential backoff with [`Jitter`], a cap applied
//!   after jitter, a retry predicate, a retry-after hint read from the error, sync and async runners,
//!   and [`Retry::run_through`] a breaker, whose refusals wait the breaker's hint.
//! - [`RetryBudget`]: retries as a fraction of recent calls, so retries cannot become a storm;
//!   breaker refusals spend nothing from it.
//! - [`BreakerRegistry`]: one breaker per name, created once, looked up without a lock.
//! - `CircuitBreakerLayer` (feature `tower`): a `tower::Layer`; an open breaker never polls the
//!   inner service.
//!
//! # Features
//!
//! | feature | enables |
//! |---|---|
//! | `serde` | `Serialize`/`Deserialize` for [`BreakerConfig`] and [`Jitter`], durations as `"30s"` |
//! | `tokio` | `Retry::run_tokio`, sleeping with `tokio::time::sleep` |
//! | `tower` | `CircuitBreakerLayer`, `CircuitBreakerService` |
//!
//! # Performance
//!
//! Acquiring a permit is one atomic load in the closed state. A success that meets a full window of
//! successes (a healthy dependency's steady state) changes nothing: it reads one word and writes
//! nothing, so callers on many cores do not contend. An outcome that changes the window takes a
//! short lock, which keeps the window exactly the last `n` outcomes. The rejection path counts on a
//! striped counter and allocates nothing. Timing calls for slow-call detection costs two clock
//! reads, which `record_slow_calls(false)` saves.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod breaker;
mod budget;
mod classify;
mod config;
mod error;
mod events;
mod metrics;
mod registry;
mod retry;
mod sync;
#[cfg(feature = "tower")]
mod tower;
mod window;

pub use breaker::{BreakerBuilder, CircuitBreaker, OwnedPermit, Permit, State};
pub use budget::RetryBudget;
pub use classify::{Classifier, Verdict};
pub use config::{
    BreakerConfig, ConsecutiveFailures, MAX_COUNT_WINDOW, MAX_HALF_OPEN_CALLS, MAX_TIME_WINDOW,
    SlidingWindow, WaitInOpen,
};
pub use error::{CallError, ConfigError, Rejected, TransitionError};
pub use events::BreakerEvent;
pub use metrics::Metrics;
pub use registry::{BreakerRegistry, RegistryError};
pub use retry::{GaveUp, Jitter, Retry, RetryBuilder, RetryError};
#[cfg(feature = "tower")]
pub use tower::{CircuitBreakerLayer, CircuitBreakerService, ResponseFuture};

// The examples in the README and the guide run as doctests, so they cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
#[doc = include_str!("../../../docs/breaker.md")]
struct DocumentationExamples;
