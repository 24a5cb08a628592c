use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stanchion_core::{Clock, SystemClock};

use crate::ConfigError;

/// A limit on retries as a fraction of recent calls, so that a failing dependency is not hit by a
/// retry storm on top of its normal load (Finagle's retry budget).
///
/// Every run deposits `ratio` of a token; every retry withdraws a whole one. Deposits expire after
/// `window`, so the budget follows recent traffic, and `min_per_second` retries are always allowed
/// so that quiet callers can still retry. With `ratio` 0.2, retries add at most 20% to the load.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use stanchion_breaker::RetryBudget;
///
/// let budget = RetryBudget::new(0.5, 0, Duration::from_secs(10)).unwrap();
/// for _ in 0..4 {
///     budget.deposit();
/// }
/// assert!(budget.try_withdraw() && budget.try_withdraw());
/// assert!(!budget.try_withdraw(), "4 calls at 50% buy 2 retries");
/// ```
pub struct RetryBudget {
    ratio: f64,
    min_per_second: u32,
    window: Duration,
    clock: Arc<dyn Clock>,
    ledger: Mutex<Ledger>,
}

/// Deposits and withdrawals per second of the window.
#[derive(Debug)]
struct Ledger {
    origin: Instant,
    seconds: Vec<(u64, f64, f64)>,
}

impl Ledger {
    fn now(&self, clock: &dyn Clock) -> u64 {
        clock.now().saturating_duration_since(self.origin).as_secs()
    }

    /// The bucket for second `now`, emptied if it held an older second.
    fn bucket(&mut self, now: u64) -> &mut (u64, f64, f64) {
        let len = self.seconds.len() as u64;
        let bucket = &mut self.seconds[(now % len) as usize];
        if bucket.0 != now {
            *bucket = (now, 0.0, 0.0);
        }
        bucket
    }

    /// Deposits minus withdrawals over the seconds still in the window.
    fn balance(&self, now: u64) -> f64 {
        let len = self.seconds.len() as u64;
        // Empty buckets hold second u64::MAX, which is never <= now.
        self.seconds
            .iter()
            .filter(|b| b.0 <= now && now - b.0 < len)
            .map(|b| b.1 - b.2)
            .sum()
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("ratio", &self.ratio)
            .field("min_per_second", &self.min_per_second)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl RetryBudget {
    /// A budget of `ratio` retries per call over the last `window` (whole seconds), plus
    /// `min_per_second` retries always allowed, on the system clock.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a ratio outside [0, 1000] or a window outside one second to one hour.
    pub fn new(ratio: f64, min_per_second: u32, window: Duration) -> Result<Self, ConfigError> {
        Self::with_clock(ratio, min_per_second, window, Arc::new(SystemClock))
    }

    /// As [`new`](Self::new), on `clock`.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn with_clock(
        ratio: f64,
        min_per_second: u32,
        window: Duration,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        if !(0.0..=1000.0).contains(&ratio) {
            return Err(ConfigError::new(
                "ratio",
                ratio,
                "a fraction of calls in [0, 1000]",
            ));
        }
        if window.as_secs() == 0 {
            return Err(ConfigError::new(
                "window",
                format!("{window:?}"),
                "at least one second",
            ));
        }
        let origin = clock.now();
        Ok(Self {
            ratio,
            min_per_second,
            window,
            ledger: Mutex::new(Ledger {
                origin,
                seconds: vec![(u64::MAX, 0.0, 0.0); window.as_secs() as usize],
            }),
            clock,
        })
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a call (a first attempt): adds `ratio` of a token.
    pub fn deposit(&self) {
        let mut ledger = self.ledger();
        let now = ledger.now(&*self.clock);
        ledger.bucket(now).1 += self.ratio;
    }

    /// Takes a token for one retry, if the budget has one.
    pub fn try_withdraw(&self) -> bool {
        let mut ledger = self.ledger();
        let now = ledger.now(&*self.clock);
        let allowance = f64::from(self.min_per_second) * self.window.as_secs_f64();
        // A small tolerance keeps ten deposits of 0.1 worth a whole token.
        if ledger.balance(now) + allowance < 1.0 - 1e-9 {
            return false;
        }
        ledger.bucket(now).2 += 1.0;
        true
    }

    /// Whole retries the budget would allow now.
    pub fn available(&self) -> u64 {
        let ledger = self.ledger();
        let now = ledger.now(&*self.clock);
        let allowance = f64::from(self.min_per_second) * self.window.as_secs_f64();
        (ledger.balance(now) + allowance + 1e-9).max(0.0).floor() as u64
    }
}
