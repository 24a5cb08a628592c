//! Small, stable types shared by the Stanchion crates: the injectable [`Clock`], the
//! [`Counter`] that statistics on hot paths are kept in, the wake-up [`event`] that waits
//! park on, the loom-checked [`RaceCell`], and the shared locking, backoff and sequence lock in
//! [`sync`].
//!
//! Every time-dependent Stanchion component (breaker windows, cache expiry, leases, flush deadlines)
//! reads time through a [`Clock`] it was given, never from `Instant::now()` directly, so that tests
//! advance a [`ManualClock`] instead of sleeping.
//!
//! ```
//! use std::time::Duration;
//! use stanchion_core::{Clock, ManualClock, SystemClock};
//!
//! fn deadline(clock: &impl Clock, timeout: Duration) -> std::time::Instant {
//!     clock.now() + timeout
//! }
//!
//! let clock = ManualClock::new();
//! let due = deadline(&clock, Duration::from_millis(50));
//! clock.advance(Duration::from_millis(50));
//! assert_eq!(clock.now(), due);
//!
//! // Production code passes the real clock.
//! let _ = deadline(&SystemClock, Duration::from_millis(50));
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod cell;
mod clock;
mod counter;
pub mod event;
pub mod sync;

pub use cell::RaceCell;
pub use clock::{Clock, ManualClock, Mark, Stopwatch, SystemClock, unix_nanos};
pub use counter::{CachePadded, Counter};
