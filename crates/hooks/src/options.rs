//! How a hook and a point are configured.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use stanchion_breaker::BreakerConfig;

/// How one hook is registered. Start from [`HookOptions::new`] and set what differs:
///
/// ```
/// use std::time::Duration;
/// use stanchion_hooks::HookOptions;
///
/// let options = HookOptions {
///     priority: -10,
///     timeout: Some(Duration::from_millis(50)),
///     cache_ttl: Some(Duration::from_secs(30)),
///     ..HookOptions::new("audit")
/// };
/// assert_eq!(&*options.name, "audit");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct HookOptions {
    /// Unique among the point's hooks; names the hook in reports, metrics and events.
    pub name: Arc<str>,
    /// Lower runs first; equal priorities run in registration order. Default 0.
    pub priority: i32,
    /// The longest the hook may take. An async hook is cancelled when it passes; a sync hook
    /// cannot be interrupted, so its result is discarded if it overran. Either way the outcome is
    /// [`TimedOut`](crate::Outcome::TimedOut), a failure for the breaker. Default: none.
    pub timeout: Option<Duration>,
    /// The hook's circuit breaker, made once at registration; `None` for no breaker. The default
    /// is [`BreakerConfig::default`] without slow-call timing (the timeout is the slowness rule),
    /// which spares two clock reads per call.
    pub breaker: Option<BreakerConfig>,
    /// Keep the hook's successful results this long, keyed by the input's digest (the registry
    /// needs a [`digest`](crate::RegistryBuilder::digest)). Default: no caching.
    pub cache_ttl: Option<Duration>,
    /// A run slower than this counts as a threshold violation in the metrics. Default 100 ms.
    pub latency_threshold: Duration,
    /// Whether the hook starts enabled. Default true.
    pub enabled: bool,
}

impl HookOptions {
    /// The defaults, for a hook called `name`.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Self {
            name: name.into(),
            priority: 0,
            timeout: None,
            breaker: Some(BreakerConfig {
                record_slow_calls: false,
                ..BreakerConfig::default()
            }),
            cache_ttl: None,
            latency_threshold: Duration::from_millis(100),
            enabled: true,
        }
    }
}

/// How a point runs its hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mode {
    /// One after another in priority order, each seeing the previous one's modification
    /// (a waterfall); a cancel stops the run.
    #[default]
    Sequential,
    /// All at once on the same input, polled concurrently on the caller's task. Outcomes are
    /// reported in priority order and modifications folded in that order, so the result does not
    /// depend on which hook finished first.
    Parallel,
}

type Validator<C> = dyn Fn(&C) -> Result<(), String> + Send + Sync;
type Merge<C> = dyn Fn(&mut C, C) + Send + Sync;

/// How a named point behaves: its [`Mode`], an optional validator that refuses bad input before
/// any hook runs, and, for parallel points, how modifications combine.
///
/// ```
/// use stanchion_hooks::{Mode, PointConfig};
///
/// let config = PointConfig::<Vec<String>>::new()
///     .mode(Mode::Parallel)
///     .validator(|args| if args.is_empty() { Err("no arguments".into()) } else { Ok(()) })
///     .merge(|all, more| all.extend(more));
/// ```
pub struct PointConfig<C> {
    pub(crate) mode: Mode,
    pub(crate) validator: Option<Arc<Validator<C>>>,
    pub(crate) merge: Option<Arc<Merge<C>>>,
}

impl<C> PointConfig<C> {
    /// Sequential, no validator, the last modification wins.
    pub fn new() -> Self {
        Self::default()
    }

    /// How the point runs its hooks.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Checked before any hook runs; an `Err(reason)` fails the run with
    /// [`RunError::Invalid`](crate::RunError::Invalid) naming the point and the reason.
    pub fn validator(
        mut self,
        validator: impl Fn(&C) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.validator = Some(Arc::new(validator));
        self
    }

    /// In parallel mode, how each modification (in priority order) is folded into the context;
    /// the default replaces it, so the last modification wins.
    pub fn merge(mut self, merge: impl Fn(&mut C, C) + Send + Sync + 'static) -> Self {
        self.merge = Some(Arc::new(merge));
        self
    }
}

impl<C> Default for PointConfig<C> {
    fn default() -> Self {
        Self {
            mode: Mode::default(),
            validator: None,
            merge: None,
        }
    }
}

impl<C> Clone for PointConfig<C> {
    fn clone(&self) -> Self {
        Self {
            mode: self.mode,
            validator: self.validator.clone(),
            merge: self.merge.clone(),
        }
    }
}

impl<C> fmt::Debug for PointConfig<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PointConfig")
            .field("mode", &self.mode)
            .field("validator", &self.validator.is_some())
            .field("merge", &self.merge.is_some())
            .finish()
    }
}
