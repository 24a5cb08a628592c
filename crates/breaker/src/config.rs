use std::time::Duration;

use crate::ConfigError;

/// The largest count-based window: a million outcomes (the totals are packed in one atomic word).
pub const MAX_COUNT_WINDOW: u32 = 1 << 20;

/// The longest time-based window: one hour of one-second buckets.
pub const MAX_TIME_WINDOW: Duration = Duration::from_secs(3600);

/// The most trial calls half-open may admit (its counts are packed in 16-bit fields).
pub const MAX_HALF_OPEN_CALLS: u32 = u16::MAX as u32;

/// Which recent outcomes the failure and slow-call rates are computed over while closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum SlidingWindow {
    /// The last `n` outcomes.
    Count(u32),
    /// The outcomes of the last whole seconds, kept in one-second buckets.
    #[cfg_attr(feature = "serde", serde(with = "humantime_serde"))]
    Time(Duration),
}

/// How long the breaker stays open before it lets trial calls through.
///
/// The wait grows with each re-opening from half-open (`initial * multiplier^reopenings`, capped at
/// `max`) and starts over once the breaker closes.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WaitInOpen {
    /// The wait after the breaker opens from closed.
    #[cfg_attr(feature = "serde", serde(with = "humantime_serde"))]
    pub initial: Duration,
    /// The growth factor per re-opening; 1 keeps the wait fixed.
    #[cfg_attr(feature = "serde", serde(default = "one"))]
    pub multiplier: f64,
    /// The longest wait.
    #[cfg_attr(feature = "serde", serde(with = "humantime_serde"))]
    pub max: Duration,
}

#[cfg(feature = "serde")]
fn one() -> f64 {
    1.0
}

impl WaitInOpen {
    /// The same wait every time.
    pub const fn fixed(wait: Duration) -> Self {
        Self {
            initial: wait,
            multiplier: 1.0,
            max: wait,
        }
    }

    /// `initial`, multiplied by `multiplier` on each re-opening, never more than `max`.
    pub const fn exponential(initial: Duration, multiplier: f64, max: Duration) -> Self {
        Self {
            initial,
            multiplier,
            max,
        }
    }

    /// The wait after `reopenings` re-openings in a row.
    pub fn wait(&self, reopenings: u32) -> Duration {
        let factor = self.multiplier.powi(reopenings.min(i32::MAX as u32) as i32);
        let wait = self.initial.as_secs_f64() * factor;
        if wait.is_finite() && wait < self.max.as_secs_f64() {
            Duration::from_secs_f64(wait)
        } else {
            self.max
        }
    }
}

/// An optional rule beside the rates: open after this many failures (or slow calls) in a row,
/// each within `within` of the one before.
///
/// The hook systems Stanchion grew from tripped on a count of failures in a window; this rule
/// gives that behaviour with the window applied, and the rate rules still hold beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ConsecutiveFailures {
    /// Failures in a row that open the breaker.
    pub failures: u32,
    /// Slow calls in a row that open the breaker, if slow calls count on their own.
    #[cfg_attr(feature = "serde", serde(default))]
    pub slow_calls: Option<u32>,
    /// How close together the outcomes of a streak must be; an older streak is forgotten.
    #[cfg_attr(feature = "serde", serde(with = "humantime_serde"))]
    pub within: Duration,
}

/// Everything a [`CircuitBreaker`](crate::CircuitBreaker) is configured by; the defaults are
/// resilience4j's.
///
/// Build one with [`CircuitBreaker::builder`](crate::CircuitBreaker::builder), start from a preset,
/// or (feature `serde`) deserialize one from TOML or JSON with durations such as `"30s"`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use stanchion_breaker::{BreakerConfig, SlidingWindow};
///
/// let config = BreakerConfig::default();
/// assert_eq!(config.failure_rate_threshold, 50.0);
/// assert_eq!(config.sliding_window, SlidingWindow::Count(100));
/// assert_eq!(config.wait_in_open.initial, Duration::from_secs(60));
///
/// let hooks = BreakerConfig::production_optimized();
/// assert_eq!(hooks.sliding_window, SlidingWindow::Time(Duration::from_secs(20)));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct BreakerConfig {
    /// Failure rate, in percent, at or above which the breaker opens. Default 50.
    pub failure_rate_threshold: f32,
    /// Slow-call rate, in percent, at or above which the breaker opens. Default 100.
    pub slow_call_rate_threshold: f32,
    /// A call that takes at least this long is slow. Default 60 s.
    #[cfg_attr(feature = "serde", serde(with = "humantime_serde"))]
    pub slow_call_duration: Duration,
    /// Whether calls are timed at all. Turning it off saves two clock reads per call and makes
    /// the slow-call rate always 0. Default on.
    pub record_slow_calls: bool,
    /// The window the rates are computed over while closed. Default `Count(100)`.
    pub sliding_window: SlidingWindow,
    /// Outcomes needed before the rates count (capped at a count window's size). Default 100.
    pub minimum_calls: u32,
    /// Trial calls admitted while half-open. Default 10.
    pub permitted_calls_in_half_open: u32,
    /// The longest the breaker stays half-open waiting for its trial calls before it opens again.
    /// Default: no limit.
    #[cfg_attr(feature = "serde", serde(with = "humantime_serde"))]
    pub max_wait_in_half_open: Option<Duration>,
    /// How long the breaker stays open. Default a fixed 60 s.
    pub wait_in_open: WaitInOpen,
    /// An optional consecutive-failures rule. Default none.
    pub consecutive_failures: Option<ConsecutiveFailures>,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration: Duration::from_secs(60),
            record_slow_calls: true,
            sliding_window: SlidingWindow::Count(100),
            minimum_calls: 100,
            permitted_calls_in_half_open: 10,
            max_wait_in_half_open: None,
            wait_in_open: WaitInOpen::fixed(Duration::from_secs(60)),
            consecutive_failures: None,
        }
    }
}

impl BreakerConfig {
    /// The seed hook system's knobs (`failure_threshold`, `success_threshold`, `failure_window`,
    /// `open_duration`, `slow_call_threshold`, `slow_call_duration`) mapped onto this model:
    /// the thresholds become a consecutive rule applied within the failure window, which is also
    /// the sliding window; the success threshold becomes the trial calls of half-open; and the
    /// open duration doubles on each re-opening, up to eight times itself. The rate rules keep
    /// resilience4j's minimum of 100 calls, so they act only on busy hooks and never trip earlier
    /// than the seed's count would.
    fn from_seed(
        failure_threshold: u32,
        success_threshold: u32,
        failure_window: Duration,
        open_duration: Duration,
        slow_call_threshold: u32,
        slow_call_duration: Duration,
    ) -> Self {
        Self {
            slow_call_duration,
            sliding_window: SlidingWindow::Time(failure_window),
            permitted_calls_in_half_open: success_threshold,
            max_wait_in_half_open: Some(failure_window),
            wait_in_open: WaitInOpen::exponential(open_duration, 2.0, open_duration * 8),
            consecutive_failures: Some(ConsecutiveFailures {
                failures: failure_threshold,
                slow_calls: Some(slow_call_threshold),
                within: failure_window,
            }),
            ..Self::default()
        }
    }

    /// The seed's `default` preset: 3 failures or 2 slow calls (50 ms) within 30 s open it for
    /// 15 s; 2 trial calls close it.
    pub fn balanced() -> Self {
        Self::from_seed(
            3,
            2,
            Duration::from_secs(30),
            Duration::from_secs(15),
            2,
            Duration::from_millis(50),
        )
    }

    /// The seed's `production_optimized` preset: 2 failures or 1 slow call (25 ms) within 20 s
    /// open it for 10 s; 1 trial call closes it.
    pub fn production_optimized() -> Self {
        Self::from_seed(
            2,
            1,
            Duration::from_secs(20),
            Duration::from_secs(10),
            1,
            Duration::from_millis(25),
        )
    }

    /// The seed's `conservative` preset: 5 failures or 3 slow calls (100 ms) within 60 s open it
    /// for 30 s; 3 trial calls close it.
    pub fn conservative() -> Self {
        Self::from_seed(
            5,
            3,
            Duration::from_secs(60),
            Duration::from_secs(30),
            3,
            Duration::from_millis(100),
        )
    }

    /// Checks every field.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the first field out of range and its value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let percent = |field, value: f32| {
            if value > 0.0 && value <= 100.0 {
                Ok(())
            } else {
                Err(ConfigError::new(field, value, "a percentage in (0, 100]"))
            }
        };
        percent("failure_rate_threshold", self.failure_rate_threshold)?;
        percent("slow_call_rate_threshold", self.slow_call_rate_threshold)?;
        if self.slow_call_duration.is_zero() {
            return Err(ConfigError::new(
                "slow_call_duration",
                "0s",
                "a duration above zero",
            ));
        }
        match self.sliding_window {
            SlidingWindow::Count(n) if n == 0 || n > MAX_COUNT_WINDOW => {
                return Err(ConfigError::new(
                    "sliding_window",
                    format!("Count({n})"),
                    "a count in 1..=1048576",
                ));
            }
            SlidingWindow::Time(d)
                if d.as_secs() == 0 || d.subsec_nanos() != 0 || d > MAX_TIME_WINDOW =>
            {
                return Err(ConfigError::new(
                    "sliding_window",
                    format!("Time({d:?})"),
                    "a whole number of seconds from 1 s to 1 h",
                ));
            }
            _ => {}
        }
        if self.minimum_calls == 0 {
            return Err(ConfigError::new("minimum_calls", 0, "at least 1"));
        }
        if self.permitted_calls_in_half_open == 0 {
            return Err(ConfigError::new(
                "permitted_calls_in_half_open",
                0,
                "at least 1",
            ));
        }
        if self.max_wait_in_half_open.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::new(
                "max_wait_in_half_open",
                "0s",
                "a duration above zero, or none",
            ));
        }
        let wait = &self.wait_in_open;
        if wait.initial.is_zero() {
            return Err(ConfigError::new(
                "wait_in_open.initial",
                "0s",
                "a duration above zero",
            ));
        }
        if !(wait.multiplier >= 1.0 && wait.multiplier.is_finite()) {
            return Err(ConfigError::new(
                "wait_in_open.multiplier",
                wait.multiplier,
                "a finite factor of at least 1",
            ));
        }
        if wait.max < wait.initial {
            return Err(ConfigError::new(
                "wait_in_open.max",
                format!("{:?}", wait.max),
                "at least wait_in_open.initial",
            ));
        }
        if let Some(rule) = &self.consecutive_failures {
            if rule.failures == 0 {
                return Err(ConfigError::new(
                    "consecutive_failures.failures",
                    0,
                    "at least 1",
                ));
            }
            if rule.slow_calls == Some(0) {
                return Err(ConfigError::new(
                    "consecutive_failures.slow_calls",
                    0,
                    "at least 1, or none",
                ));
            }
            if rule.within.is_zero() {
                return Err(ConfigError::new(
                    "consecutive_failures.within",
                    "0s",
                    "a duration above zero",
                ));
            }
        }
        Ok(())
    }

    /// The outcomes needed before the closed-state rates count.
    pub(crate) fn effective_minimum_calls(&self) -> u32 {
        match self.sliding_window {
            SlidingWindow::Count(n) => self.minimum_calls.min(n),
            SlidingWindow::Time(_) => self.minimum_calls,
        }
    }

    /// The outcomes after which half-open decides.
    pub(crate) fn half_open_quota(&self) -> u32 {
        self.minimum_calls.min(self.permitted_calls_in_half_open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A change that spoils a valid config, and what the error must say.
    type Case = (fn(&mut BreakerConfig), &'static str);

    #[test]
    fn every_bad_field_is_named() {
        let cases: Vec<Case> = vec![
            (
                |c| c.failure_rate_threshold = 0.0,
                "failure_rate_threshold is 0, expected a percentage in (0, 100]",
            ),
            (
                |c| c.failure_rate_threshold = 100.5,
                "failure_rate_threshold is 100.5",
            ),
            (
                |c| c.slow_call_rate_threshold = f32::NAN,
                "slow_call_rate_threshold is NaN",
            ),
            (
                |c| c.slow_call_duration = Duration::ZERO,
                "slow_call_duration is 0s",
            ),
            (
                |c| c.sliding_window = SlidingWindow::Count(0),
                "sliding_window is Count(0)",
            ),
            (
                |c| c.sliding_window = SlidingWindow::Time(Duration::from_millis(1500)),
                "sliding_window is Time(1.5s)",
            ),
            (|c| c.minimum_calls = 0, "minimum_calls is 0"),
            (
                |c| c.permitted_calls_in_half_open = 0,
                "permitted_calls_in_half_open is 0",
            ),
            (
                |c| c.max_wait_in_half_open = Some(Duration::ZERO),
                "max_wait_in_half_open is 0s",
            ),
            (
                |c| c.wait_in_open = WaitInOpen::fixed(Duration::ZERO),
                "wait_in_open.initial is 0s",
            ),
            (
                |c| c.wait_in_open.multiplier = 0.5,
                "wait_in_open.multiplier is 0.5",
            ),
            (
                |c| {
                    c.consecutive_failures = Some(ConsecutiveFailures {
                        failures: 0,
                        slow_calls: None,
                        within: Duration::from_secs(1),
                    })
                },
                "consecutive_failures.failures is 0",
            ),
        ];
        for (spoil, expected) in cases {
            let mut config = BreakerConfig::default();
            spoil(&mut config);
            let error = config.validate().unwrap_err().to_string();
            assert!(
                error.contains(expected),
                "{error:?} should contain {expected:?}"
            );
        }
    }

    #[test]
    fn presets_are_valid_and_apply_the_seed_window() {
        for (config, window, consecutive, trials) in [
            (BreakerConfig::balanced(), 30, 3, 2),
            (BreakerConfig::production_optimized(), 20, 2, 1),
            (BreakerConfig::conservative(), 60, 5, 3),
        ] {
            config.validate().unwrap();
            assert_eq!(
                config.sliding_window,
                SlidingWindow::Time(Duration::from_secs(window))
            );
            let rule = config.consecutive_failures.unwrap();
            assert_eq!(
                (rule.failures, rule.within),
                (consecutive, Duration::from_secs(window))
            );
            assert_eq!(config.permitted_calls_in_half_open, trials);
        }
        BreakerConfig::default().validate().unwrap();
    }

    #[test]
    fn wait_grows_and_caps() {
        let wait = WaitInOpen::exponential(Duration::from_secs(1), 2.0, Duration::from_secs(10));
        let waits: Vec<u64> = (0..6).map(|n| wait.wait(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
        assert_eq!(wait.wait(u32::MAX), Duration::from_secs(10));
        assert_eq!(
            WaitInOpen::fixed(Duration::from_secs(3)).wait(7),
            Duration::from_secs(3)
        );
    }
}
