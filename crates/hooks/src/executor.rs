//! The executor: runs a point's hooks from the registry's snapshot, in sequence or in parallel,
//! through each hook's breaker, timeout and result cache, recording metrics and events.

use std::any::Any;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::join_all;
use stanchion_breaker::Permit;
use stanchion_cache::Cache;
use stanchion_core::Mark;

use crate::events::HookEvent;
use crate::hook::{Action, Callable, DynHook, HookError, HookResult, SyncFn};
use crate::options::Mode;
use crate::registry::{Entry, HookRegistry, Point};
use crate::report::{HookRun, Outcome, RunError, RunReport, RunStatus};

/// What a sequential run does after a hook fails or times out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Run the remaining hooks; the run still ends [`RunStatus::Failed`]. A hook system's usual
    /// choice: one broken plugin does not stop the others.
    #[default]
    Continue,
    /// Stop at the first failure.
    Bail,
}

/// Results cached per (hook, input digest).
type ResultCache<C> = Cache<(u64, u64), Action<C>>;

/// Builds a [`HookExecutor`].
#[derive(Debug)]
pub struct ExecutorBuilder<C> {
    registry: HookRegistry<C>,
    cache_capacity: u64,
    failure_policy: FailurePolicy,
    rejection_fails_run: bool,
}

impl<C: Clone + Send + Sync + 'static> ExecutorBuilder<C> {
    /// The most results kept for hooks with a cache TTL. Default 10,000.
    pub fn cache_capacity(mut self, entries: u64) -> Self {
        self.cache_capacity = entries;
        self
    }

    /// What happens after a failure. Default [`FailurePolicy::Continue`].
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.failure_policy = policy;
        self
    }

    /// Whether a hook refused by its open breaker fails the run like an error would. Default
    /// false: the refusal is in the report as [`Outcome::Rejected`] and the run goes on.
    pub fn rejection_fails_run(mut self, fails: bool) -> Self {
        self.rejection_fails_run = fails;
        self
    }

    /// The executor.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming `cache_capacity` when it is zero.
    pub fn build(self) -> Result<HookExecutor<C>, ConfigError> {
        if self.cache_capacity == 0 {
            return Err(ConfigError {
                field: "cache_capacity",
                value: "0".into(),
                expected: "at least 1",
            });
        }
        // Only a registry with a digest can have caching hooks.
        let cache = self.registry.digest().map(|_| {
            Cache::builder()
                .max_capacity(self.cache_capacity)
                .clock(std::sync::Arc::clone(self.registry.clock()))
                .build()
                .expect("a cache of a positive capacity is valid")
        });
        Ok(HookExecutor {
            registry: self.registry,
            cache,
            failure_policy: self.failure_policy,
            rejection_fails_run: self.rejection_fails_run,
        })
    }
}

/// An executor configuration that cannot work, naming the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid executor configuration: {field} is {value}, expected {expected}")]
#[non_exhaustive]
pub struct ConfigError {
    /// The builder method whose value is wrong.
    pub field: &'static str,
    /// The value given.
    pub value: String,
    /// What would have been accepted.
    pub expected: &'static str,
}

/// Runs the hooks of a point. Cheap to share by reference; build one per policy.
///
/// ```
/// use stanchion_hooks::{Action, HookExecutor, HookOptions, HookRegistry, RunStatus};
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let registry = HookRegistry::<i64>::new();
/// registry.register_fn("price", |p| Ok(Action::Modify(p * 2)), HookOptions::new("double"))?;
/// registry.register_fn(
///     "price",
///     |p| Ok(if *p > 100 { Action::cancel("too dear") } else { Action::Continue }),
///     HookOptions::new("cap"),
/// )?;
/// let executor = HookExecutor::new(registry);
///
/// let report = executor.run("price", 30).await?;
/// assert_eq!(report.context, 60);
/// assert!(report.is_success());
///
/// let report = executor.run("price", 70).await?;
/// assert_eq!(report.status, RunStatus::Cancelled { by: "cap".into(), reason: "too dear".into() });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct HookExecutor<C> {
    registry: HookRegistry<C>,
    cache: Option<ResultCache<C>>,
    failure_policy: FailurePolicy,
    rejection_fails_run: bool,
}

impl<C> fmt::Debug for HookExecutor<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookExecutor")
            .field("registry", &self.registry)
            .field("cache", &self.cache.is_some())
            .field("failure_policy", &self.failure_policy)
            .field("rejection_fails_run", &self.rejection_fails_run)
            .finish()
    }
}

/// One hook's call, before it is folded into the run.
struct Called<C> {
    outcome: Outcome,
    modified: Option<C>,
    elapsed: Duration,
    cached: bool,
}

/// What [`HookExecutor::admit`] decided.
enum Admission<'e, C> {
    /// The cache answered, or the breaker refused: the body does not run.
    Answered(Called<C>),
    /// Run the body, holding the breaker's permit if the hook has a breaker.
    Run(Option<Permit<'e>>),
}

/// How a hook's body ended, before it is judged.
enum Ended<C> {
    Returned(HookResult<C>),
    Panicked(Box<dyn Any + Send>),
    TimedOut(Duration),
}

impl<C: Clone + Send + Sync + 'static> HookExecutor<C> {
    /// An executor with the default policies and cache capacity.
    pub fn new(registry: HookRegistry<C>) -> Self {
        Self::builder(registry)
            .build()
            .expect("the default cache capacity is valid")
    }

    /// Configures an executor over `registry`.
    pub fn builder(registry: HookRegistry<C>) -> ExecutorBuilder<C> {
        ExecutorBuilder {
            registry,
            cache_capacity: 10_000,
            failure_policy: FailurePolicy::default(),
            rejection_fails_run: false,
        }
    }

    /// The registry it runs hooks from.
    pub fn registry(&self) -> &HookRegistry<C> {
        &self.registry
    }

    /// Runs `point`'s hooks on `ctx` as the point's [`Mode`] says, and reports each hook's outcome.
    /// A point with no hooks (or none enabled) returns `ctx` unchanged.
    ///
    /// Async hooks with a timeout need a Tokio runtime with its timer enabled.
    ///
    /// # Errors
    ///
    /// [`RunError::Invalid`] when the point's validator refuses `ctx`; no hook runs.
    pub async fn run(&self, point: &str, ctx: C) -> Result<RunReport<C>, RunError> {
        let Some(point) = self.registry.point(point) else {
            return Ok(RunReport {
                context: ctx,
                hooks: Vec::new(),
                status: RunStatus::Completed,
                elapsed: Duration::ZERO,
            });
        };
        if let Some(validator) = &point.config.validator
            && let Err(reason) = validator(&ctx)
        {
            point.recorder.invalid.increment();
            return Err(RunError::Invalid {
                point: point.name.clone(),
                reason,
            });
        }
        let mut report = RunReport {
            context: ctx,
            hooks: Vec::with_capacity(point.hooks.len()),
            status: RunStatus::Completed,
            elapsed: Duration::ZERO,
        };
        if !self.registry.is_enabled() {
            return Ok(report);
        }
        let clock = self.registry.clock();
        let started = clock.mark();
        let finished = match point.config.mode {
            Mode::Sequential => self.waterfall(&point, &mut report, started).await,
            Mode::Parallel => {
                self.parallel(&point, &mut report).await;
                None
            }
        };
        report.elapsed = clock.span(started, finished.unwrap_or_else(|| clock.mark()));
        point.recorder.latency.record(report.elapsed);
        match report.status {
            RunStatus::Completed => {}
            RunStatus::Cancelled { .. } => point.recorder.cancelled.increment(),
            RunStatus::Failed { .. } => point.recorder.failed.increment(),
        }
        Ok(report)
    }

    /// Each hook sees the previous one's modification; a cancel, or a failure under
    /// [`FailurePolicy::Bail`], stops the run. Returns the last clock reading if it was taken at
    /// the end of the run, so the run's time needs no reading of its own.
    ///
    /// The clock is read once per hook body, at its end, and a hook's time runs from the previous
    /// reading: between two plain hooks only the executor's bookkeeping (breaker, counters,
    /// report) comes between, a few tens of nanoseconds, and this saves a reading per hook.
    /// Anything slower since the last reading (a digest, a cache lookup or insert, events, a
    /// cached or rejected hook) makes the executor read the clock again just before the body.
    async fn waterfall(
        &self,
        point: &Point<C>,
        report: &mut RunReport<C>,
        started: Mark,
    ) -> Option<Mark> {
        let clock = self.registry.clock();
        let mut mark = started;
        // Whether nothing but bookkeeping happened since `mark` was read.
        let mut fresh = true;
        // The context's digest, computed when a caching hook first needs it.
        let mut digest = None;
        for hook in point.hooks.iter() {
            if !hook.enabled.load(Ordering::Relaxed) {
                continue;
            }
            let key = self.cache_key(hook, &report.context, &mut digest);
            let called = match self.admit(point, hook, key) {
                Admission::Answered(called) => {
                    fresh = false;
                    called
                }
                Admission::Run(permit) => {
                    let quiet = key.is_none() && !self.listened();
                    if !(fresh && quiet) {
                        mark = clock.mark();
                    }
                    let ended = match &hook.callable {
                        Callable::Sync(f) => run_sync(f, &report.context),
                        Callable::Async(h) => run_async(hook, &**h, &report.context).await,
                    };
                    let now = clock.mark();
                    let elapsed = clock.span(mark, now);
                    mark = now;
                    // `finish` inserts into the cache and publishes only for such hooks.
                    fresh = quiet;
                    self.finish(point, hook, key, permit, ended, elapsed)
                }
            };
            if let Some(modified) = called.modified {
                report.context = modified;
                digest = None;
            }
            let stop = self.judge(hook, &called.outcome, &mut report.status);
            report.hooks.push(HookRun {
                name: hook.name.clone(),
                outcome: called.outcome,
                elapsed: called.elapsed,
                cached: called.cached,
            });
            if stop {
                break;
            }
        }
        fresh.then_some(mark)
    }

    /// Every enabled hook on the same input at once; outcomes and modifications are taken in
    /// priority order, whatever order the hooks finished in.
    async fn parallel(&self, point: &Point<C>, report: &mut RunReport<C>) {
        let hooks: Vec<_> = point
            .hooks
            .iter()
            .filter(|hook| hook.enabled.load(Ordering::Relaxed))
            .collect();
        let mut digest = None;
        let keys: Vec<_> = hooks
            .iter()
            .map(|hook| self.cache_key(hook, &report.context, &mut digest))
            .collect();
        let calls = join_all(
            hooks
                .iter()
                .zip(keys)
                .map(|(hook, key)| self.call(point, hook, &report.context, key)),
        )
        .await;
        let mut modifications = Vec::new();
        for (hook, called) in hooks.iter().zip(calls) {
            self.judge(hook, &called.outcome, &mut report.status);
            modifications.extend(called.modified);
            report.hooks.push(HookRun {
                name: hook.name.clone(),
                outcome: called.outcome,
                elapsed: called.elapsed,
                cached: called.cached,
            });
        }
        if report.status == RunStatus::Completed {
            for modified in modifications {
                match &point.config.merge {
                    Some(merge) => merge(&mut report.context, modified),
                    None => report.context = modified,
                }
            }
        }
    }

    /// Folds `outcome` into the run's status; returns whether the run stops here. The first
    /// cancel in priority order decides the status (in parallel mode later ones also ran).
    #[inline]
    fn judge(&self, hook: &Entry<C>, outcome: &Outcome, status: &mut RunStatus) -> bool {
        let failed = match outcome {
            Outcome::Continued | Outcome::Modified => false,
            Outcome::Cancelled(reason) => {
                if !matches!(status, RunStatus::Cancelled { .. }) {
                    *status = RunStatus::Cancelled {
                        by: hook.name.clone(),
                        reason: reason.clone(),
                    };
                }
                return true;
            }
            Outcome::Failed(_) | Outcome::TimedOut(_) => true,
            Outcome::Rejected(_) => self.rejection_fails_run,
        };
        if failed && *status == RunStatus::Completed {
            *status = RunStatus::Failed {
                by: hook.name.clone(),
            };
        }
        failed && self.failure_policy == FailurePolicy::Bail
    }

    /// The cache key of `hook` on `ctx`, if the hook caches; `digest` memoizes the context's.
    fn cache_key(&self, hook: &Entry<C>, ctx: &C, digest: &mut Option<u64>) -> Option<(u64, u64)> {
        hook.cache_ttl?;
        let digest = match *digest {
            Some(known) => known,
            None => *digest.insert((self.registry.digest()?)(ctx)),
        };
        Some((hook.id, digest))
    }

    /// Calls one hook, timed on its own: for parallel runs, where hooks overlap.
    async fn call(
        &self,
        point: &Point<C>,
        hook: &Entry<C>,
        ctx: &C,
        key: Option<(u64, u64)>,
    ) -> Called<C> {
        let permit = match self.admit(point, hook, key) {
            Admission::Answered(called) => return called,
            Admission::Run(permit) => permit,
        };
        let clock = self.registry.clock();
        let started = clock.mark();
        let ended = match &hook.callable {
            Callable::Sync(f) => run_sync(f, ctx),
            Callable::Async(h) => run_async(hook, &**h, ctx).await,
        };
        let elapsed = clock.span(started, clock.mark());
        self.finish(point, hook, key, permit, ended, elapsed)
    }

    /// Before a hook's body: the cache may answer for it, or its breaker refuse it; otherwise it
    /// runs, holding the breaker's permit.
    #[inline(always)]
    fn admit<'e>(
        &self,
        point: &Point<C>,
        hook: &'e Entry<C>,
        key: Option<(u64, u64)>,
    ) -> Admission<'e, C> {
        if let (Some(key), Some(cache)) = (key, &self.cache)
            && let Some(action) = cache.get(&key)
        {
            hook.recorder.cache_hits.increment();
            let (outcome, modified) = action_outcome(action);
            return Admission::Answered(Called {
                outcome,
                modified,
                elapsed: Duration::ZERO,
                cached: true,
            });
        }
        let permit = match &hook.breaker {
            None => None,
            Some(breaker) => match breaker.try_acquire() {
                Ok(permit) => Some(permit),
                Err(rejected) => {
                    hook.recorder.rejections.increment();
                    let outcome = Outcome::Rejected(rejected);
                    self.publish(|| failed_event(point, hook, &outcome));
                    return Admission::Answered(Called {
                        outcome,
                        modified: None,
                        elapsed: Duration::ZERO,
                        cached: false,
                    });
                }
            },
        };
        self.publish(|| HookEvent::Started {
            point: point.name.clone(),
            hook: hook.name.clone(),
        });
        Admission::Run(permit)
    }

    /// After a hook's body: judge how it ended, settle its permit, cache its action, record its
    /// metrics and tell the bus.
    #[inline(always)]
    fn finish(
        &self,
        point: &Point<C>,
        hook: &Entry<C>,
        key: Option<(u64, u64)>,
        permit: Option<Permit<'_>>,
        ended: Ended<C>,
        elapsed: Duration,
    ) -> Called<C> {
        let mut elapsed = elapsed;
        let (outcome, modified) = match ended {
            // A sync hook cannot be interrupted: one that overran has its result discarded.
            Ended::Returned(_)
                if matches!(hook.callable, Callable::Sync(_))
                    && hook.timeout.is_some_and(|limit| elapsed > limit) =>
            {
                (Outcome::TimedOut(hook.timeout.unwrap_or_default()), None)
            }
            Ended::Returned(Ok(action)) => {
                if let (Some(key), Some(cache), Some(ttl)) = (key, &self.cache, hook.cache_ttl) {
                    cache.insert_with_ttl(key, action.clone(), ttl);
                }
                action_outcome(action)
            }
            Ended::Returned(Err(error)) => (Outcome::Failed(error), None),
            Ended::Panicked(payload) => (Outcome::Failed(panic_error(&*payload)), None),
            Ended::TimedOut(limit) => {
                // The timer that fired is Tokio's; the registry's clock may not have moved as
                // far (a manual clock, paused time). The hook took its whole allowance.
                elapsed = elapsed.max(limit);
                (Outcome::TimedOut(limit), None)
            }
        };

        let recorder = &hook.recorder;
        recorder.latency.record(elapsed);
        if elapsed > hook.latency_threshold {
            recorder.threshold_violations.increment();
        }
        match &outcome {
            Outcome::Cancelled(_) => recorder.cancels.increment(),
            Outcome::Failed(_) => recorder.failures.increment(),
            Outcome::TimedOut(_) => recorder.timeouts.increment(),
            _ => {}
        }
        let success = outcome.is_success();
        // Told before the breaker hears of it, so a transition it causes comes after on the bus.
        if success {
            self.publish(|| HookEvent::Finished {
                point: point.name.clone(),
                hook: hook.name.clone(),
                elapsed,
            });
        } else {
            self.publish(|| failed_event(point, hook, &outcome));
        }
        if let Some(permit) = permit {
            if success {
                permit.success();
            } else {
                permit.failure();
            }
        }
        Called {
            outcome,
            modified,
            elapsed,
            cached: false,
        }
    }

    /// Whether events are published now.
    #[inline]
    fn listened(&self) -> bool {
        self.registry
            .events()
            .is_some_and(|topic| topic.has_subscribers())
    }

    /// Publishes the event `make` builds, if anyone listens; never waits.
    #[inline]
    fn publish(&self, make: impl FnOnce() -> HookEvent) {
        if self.listened()
            && let Some(topic) = self.registry.events()
        {
            let _ = topic.try_publish(make());
        }
    }
}

/// Runs a sync hook's body inline, catching a panic.
fn run_sync<C>(f: &SyncFn<C>, ctx: &C) -> Ended<C> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| f(ctx))) {
        Ok(result) => Ended::Returned(result),
        Err(payload) => Ended::Panicked(payload),
    }
}

/// Runs an async hook's body, catching a panic and dropping it when its timeout passes.
async fn run_async<C>(hook: &Entry<C>, h: &dyn DynHook<C>, ctx: &C) -> Ended<C> {
    let body = AssertUnwindSafe(h.call_boxed(ctx)).catch_unwind();
    let ended = match hook.timeout {
        Some(limit) => match tokio::time::timeout(limit, body).await {
            Ok(ended) => ended,
            Err(_) => return Ended::TimedOut(limit),
        },
        None => body.await,
    };
    ended.map_or_else(Ended::Panicked, Ended::Returned)
}

fn action_outcome<C>(action: Action<C>) -> (Outcome, Option<C>) {
    match action {
        Action::Continue => (Outcome::Continued, None),
        Action::Modify(ctx) => (Outcome::Modified, Some(ctx)),
        Action::Cancel(reason) => (Outcome::Cancelled(reason), None),
    }
}

fn failed_event<C>(point: &Point<C>, hook: &Entry<C>, outcome: &Outcome) -> HookEvent {
    HookEvent::Failed {
        point: point.name.clone(),
        hook: hook.name.clone(),
        reason: outcome.to_string().into(),
    }
}

/// A panic's message as a hook error.
fn panic_error(payload: &(dyn Any + Send)) -> HookError {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string payload");
    HookError::new(format!("hook panicked: {message}"))
}
