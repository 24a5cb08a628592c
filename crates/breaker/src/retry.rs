use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{CallError, CircuitBreaker, ConfigError, RetryBudget};

/// How a backoff delay is randomised, so that clients retrying together spread out.
///
/// With `exp = base * multiplier^(retry - 1)`:
/// `None` waits `exp`; `Full` a uniform draw from `[0, exp]`; `Equal` `exp / 2` plus a draw from
/// `[0, exp / 2]`; `Decorrelated` a draw from `[base, 3 * previous delay]` (AWS's decorrelated
/// jitter). Every delay is then capped at the maximum: the cap applies after jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Jitter {
    /// No randomness.
    None,
    /// A uniform draw between zero and the exponential delay (the default).
    #[default]
    Full,
    /// Half the exponential delay, plus a uniform draw over the other half.
    Equal,
    /// A draw between the base delay and three times the previous delay.
    Decorrelated,
}

/// Why a retrying run gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GaveUp {
    /// The retry predicate said this error is not worth retrying.
    NotRetryable,
    /// Every attempt was used.
    AttemptsExhausted,
    /// The retry budget had no token for another retry.
    BudgetExhausted,
}

/// The last error of a run that gave up, with how many attempts were made and why it stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gave up after {attempts} attempt(s) ({reason:?}): {error}")]
pub struct RetryError<E> {
    /// The last attempt's error.
    pub error: E,
    /// Attempts made, the first call included.
    pub attempts: u32,
    /// Why no further attempt was made.
    pub reason: GaveUp,
}

type RetryIf<E> = Arc<dyn Fn(&E) -> bool + Send + Sync>;
type RetryAfter<E> = Arc<dyn Fn(&E) -> Option<Duration> + Send + Sync>;

/// Retries a failing operation with exponential backoff, jitter and an optional budget.
///
/// `max_attempts` counts **every** attempt, the first call included: `max_attempts(3)` means one
/// call and at most two retries.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use stanchion_breaker::{Jitter, Retry};
///
/// let retry = Retry::builder()
///     .max_attempts(4)
///     .base_delay(Duration::from_millis(1))
///     .jitter(Jitter::None)
///     .retry_if(|e: &std::io::Error| e.kind() == std::io::ErrorKind::ConnectionRefused)
///     .build()?;
///
/// let mut calls = 0;
/// let answer = retry.run(|attempt| {
///     calls += 1;
///     if attempt < 3 { Err(std::io::ErrorKind::ConnectionRefused.into()) } else { Ok(42) }
/// });
/// assert_eq!((answer.unwrap(), calls), (42, 3));
/// # Ok::<(), stanchion_breaker::ConfigError>(())
/// ```
pub struct Retry<E> {
    max_attempts: u32,
    base_delay: Duration,
    multiplier: f64,
    max_delay: Duration,
    jitter: Jitter,
    retry_if: Option<RetryIf<E>>,
    retry_after: Option<RetryAfter<E>>,
    budget: Option<Arc<RetryBudget>>,
    rng: Mutex<fastrand::Rng>,
}

impl<E> fmt::Debug for Retry<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("max_attempts", &self.max_attempts)
            .field("base_delay", &self.base_delay)
            .field("multiplier", &self.multiplier)
            .field("max_delay", &self.max_delay)
            .field("jitter", &self.jitter)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Retry`].
#[must_use]
pub struct RetryBuilder<E> {
    max_attempts: u32,
    base_delay: Duration,
    multiplier: f64,
    max_delay: Duration,
    jitter: Jitter,
    retry_if: Option<RetryIf<E>>,
    retry_after: Option<RetryAfter<E>>,
    budget: Option<Arc<RetryBudget>>,
    seed: Option<u64>,
}

impl<E> fmt::Debug for RetryBuilder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBuilder")
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl<E> Retry<E> {
    /// A builder with 3 attempts (one call, two retries), a 100 ms base delay doubling up to 10 s,
    /// full jitter, every error retried, and no budget.
    pub fn builder() -> RetryBuilder<E> {
        RetryBuilder {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            multiplier: 2.0,
            max_delay: Duration::from_secs(10),
            jitter: Jitter::Full,
            retry_if: None,
            retry_after: None,
            budget: None,
            seed: None,
        }
    }

    /// The most attempts a run makes, the first call included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The delay before retry number `retry` (1 for the first retry), given the delay before the
    /// previous one; jittered, then capped.
    pub fn delay(&self, retry: u32, previous: Duration) -> Duration {
        let exponential = self.base_delay.as_secs_f64()
            * self
                .multiplier
                .powi(retry.saturating_sub(1).min(i32::MAX as u32) as i32);
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut draw = |low: f64, high: f64| {
            if high > low {
                low + rng.f64() * (high - low)
            } else {
                low
            }
        };
        let seconds = match self.jitter {
            Jitter::None => exponential,
            Jitter::Full => draw(0.0, exponential),
            Jitter::Equal => exponential / 2.0 + draw(0.0, exponential / 2.0),
            Jitter::Decorrelated => {
                let base = self.base_delay.as_secs_f64();
                draw(base, (previous.as_secs_f64() * 3.0).max(base))
            }
        };
        let cap = self.max_delay.as_secs_f64();
        if seconds.is_finite() && seconds < cap {
            Duration::from_secs_f64(seconds.max(0.0))
        } else {
            self.max_delay
        }
    }

    /// What to do after `attempt` failed with `error`: the delay before the next attempt, or why
    /// to stop. A breaker rejection (`rejected`) neither needs nor spends a budget token.
    fn next(
        &self,
        attempt: u32,
        error: &E,
        previous: Duration,
        rejected: bool,
    ) -> Result<Duration, GaveUp> {
        if self
            .retry_if
            .as_ref()
            .is_some_and(|retry_if| !retry_if(error))
        {
            return Err(GaveUp::NotRetryable);
        }
        if attempt >= self.max_attempts {
            return Err(GaveUp::AttemptsExhausted);
        }
        if !rejected
            && self
                .budget
                .as_ref()
                .is_some_and(|budget| !budget.try_withdraw())
        {
            return Err(GaveUp::BudgetExhausted);
        }
        let told = self
            .retry_after
            .as_ref()
            .and_then(|retry_after| retry_after(error));
        Ok(told.map_or_else(
            || self.delay(attempt, previous),
            |told| told.min(self.max_delay),
        ))
    }

    fn deposit(&self) {
        if let Some(budget) = &self.budget {
            budget.deposit();
        }
    }

    /// Runs `operation` (given the attempt number, from 1) until it succeeds or the policy gives up,
    /// sleeping the thread between attempts.
    ///
    /// # Errors
    ///
    /// [`RetryError`] with the last error, the attempts made and why it stopped.
    pub fn run<T>(&self, operation: impl FnMut(u32) -> Result<T, E>) -> Result<T, RetryError<E>> {
        self.run_with_sleep(std::thread::sleep, operation)
    }

    /// As [`run`](Self::run), sleeping through `sleep`: tests pass one that advances a manual clock.
    ///
    /// # Errors
    ///
    /// As [`run`](Self::run).
    pub fn run_with_sleep<T>(
        &self,
        sleep: impl FnMut(Duration),
        operation: impl FnMut(u32) -> Result<T, E>,
    ) -> Result<T, RetryError<E>> {
        self.drive(sleep, operation, |_| None)
    }

    /// The retry loop. `refusal` tells whether an error is a breaker's refusal, with the breaker's
    /// own hint: a refusal waits that hint and spends no budget token.
    fn drive<T>(
        &self,
        mut sleep: impl FnMut(Duration),
        mut operation: impl FnMut(u32) -> Result<T, E>,
        refusal: impl Fn(&E) -> Option<Option<Duration>>,
    ) -> Result<T, RetryError<E>> {
        self.deposit();
        let mut previous = self.base_delay;
        for attempt in 1.. {
            let error = match operation(attempt) {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let refused = refusal(&error);
            match self.next(attempt, &error, previous, refused.is_some()) {
                Ok(delay) => {
                    let delay = refused
                        .flatten()
                        .map_or(delay, |hint| hint.min(self.max_delay));
                    sleep(delay);
                    previous = delay;
                }
                Err(reason) => {
                    return Err(RetryError {
                        error,
                        attempts: attempt,
                        reason,
                    });
                }
            }
        }
        unreachable!("attempts are bounded by max_attempts")
    }

    /// Awaits `operation` until it succeeds or the policy gives up, sleeping with `sleep` (for
    /// tokio, `tokio::time::sleep`, which a paused test clock drives).
    ///
    /// # Errors
    ///
    /// As [`run`](Self::run).
    pub async fn run_async<T, F, S>(
        &self,
        mut sleep: impl FnMut(Duration) -> S,
        mut operation: impl FnMut(u32) -> F,
    ) -> Result<T, RetryError<E>>
    where
        F: Future<Output = Result<T, E>>,
        S: Future<Output = ()>,
    {
        self.deposit();
        let mut previous = self.base_delay;
        for attempt in 1.. {
            match operation(attempt).await {
                Ok(value) => return Ok(value),
                Err(error) => match self.next(attempt, &error, previous, false) {
                    Ok(delay) => {
                        sleep(delay).await;
                        previous = delay;
                    }
                    Err(reason) => {
                        return Err(RetryError {
                            error,
                            attempts: attempt,
                            reason,
                        });
                    }
                },
            }
        }
        unreachable!("attempts are bounded by max_attempts")
    }

    /// Awaits `operation` with tokio's sleep between attempts.
    ///
    /// # Errors
    ///
    /// As [`run`](Self::run).
    #[cfg(feature = "tokio")]
    pub async fn run_tokio<T, F>(&self, operation: impl FnMut(u32) -> F) -> Result<T, RetryError<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        self.run_async(tokio::time::sleep, operation).await
    }
}

impl<E> Retry<CallError<E>> {
    /// Runs `operation` through `breaker`, retrying its failures. A rejection by the breaker waits
    /// the breaker's own retry-after hint (capped at the maximum delay) and spends no budget token:
    /// the dependency was not called, so nothing was added to its load.
    ///
    /// # Errors
    ///
    /// As [`run`](Self::run), with the last [`CallError`].
    pub fn run_through<T>(
        &self,
        breaker: &CircuitBreaker,
        sleep: impl FnMut(Duration),
        mut operation: impl FnMut(u32) -> Result<T, E>,
    ) -> Result<T, RetryError<CallError<E>>> {
        self.drive(
            sleep,
            |attempt| breaker.call(|| operation(attempt)),
            |error| match error {
                CallError::Rejected(rejected) => Some(rejected.retry_after()),
                CallError::Inner(_) => None,
            },
        )
    }
}

impl<E> RetryBuilder<E> {
    /// The most attempts, **the first call included**: 1 never retries. Default 3.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// The delay before the first retry, before jitter. Default 100 ms.
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The growth per retry, at least 1. Default 2.
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier;
        self
    }

    /// The cap on every delay, applied after jitter and to retry-after hints. Default 10 s.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// How delays are randomised. Default [`Jitter::Full`].
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Only errors matching `predicate` are retried. Default: every error.
    pub fn retry_if(mut self, predicate: impl Fn(&E) -> bool + Send + Sync + 'static) -> Self {
        self.retry_if = Some(Arc::new(predicate));
        self
    }

    /// Reads a delay the error itself asks for (an HTTP `Retry-After`, say); it replaces the
    /// backoff delay, capped at the maximum.
    pub fn retry_after(
        mut self,
        hint: impl Fn(&E) -> Option<Duration> + Send + Sync + 'static,
    ) -> Self {
        self.retry_after = Some(Arc::new(hint));
        self
    }

    /// Spends a token of `budget` on every retry and deposits into it on every run; share one
    /// budget among the callers of a dependency.
    pub fn budget(mut self, budget: Arc<RetryBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Seeds the jitter, for reproducible delays.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Validates the settings.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for zero attempts, a multiplier under 1, or a maximum delay under the base.
    pub fn build(self) -> Result<Retry<E>, ConfigError> {
        if self.max_attempts == 0 {
            return Err(ConfigError::new(
                "max_attempts",
                0,
                "at least 1 (the first call counts)",
            ));
        }
        if !(self.multiplier >= 1.0 && self.multiplier.is_finite()) {
            return Err(ConfigError::new(
                "multiplier",
                self.multiplier,
                "a finite factor of at least 1",
            ));
        }
        if self.max_delay < self.base_delay {
            return Err(ConfigError::new(
                "max_delay",
                format!("{:?}", self.max_delay),
                "at least base_delay",
            ));
        }
        Ok(Retry {
            max_attempts: self.max_attempts,
            base_delay: self.base_delay,
            multiplier: self.multiplier,
            max_delay: self.max_delay,
            jitter: self.jitter,
            retry_if: self.retry_if,
            retry_after: self.retry_after,
            budget: self.budget,
            rng: Mutex::new(
                self.seed
                    .map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed),
            ),
        })
    }
}
