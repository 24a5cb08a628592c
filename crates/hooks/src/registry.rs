//! The registry: named points, each with its hooks in run order, published as an immutable
//! snapshot that runs load without a lock and registration replaces whole.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use stanchion_breaker::{BreakerEvent, CircuitBreaker, ConfigError as BreakerConfigError};
use stanchion_bus::Topic;
use stanchion_core::sync::{Mutex, lock};
use stanchion_core::{Clock, SystemClock};

use crate::events::HookEvent;
use crate::hook::{Callable, Hook, HookResult};
use crate::metrics::{HookMetrics, HookRecorder, PointMetrics, PointRecorder};
use crate::options::{HookOptions, PointConfig};

type Digest<C> = dyn Fn(&C) -> u64 + Send + Sync;
type Map<V> = HashMap<Arc<str>, V, foldhash::fast::RandomState>;

/// Why a hook could not be registered. Nothing is registered when this is returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// [`HookOptions::name`] is empty.
    #[error("hook on point {point:?} has an empty name")]
    EmptyName {
        /// The point.
        point: Arc<str>,
    },
    /// The point already has a hook of that name.
    #[error("point {point:?} already has a hook named {name:?}")]
    Duplicate {
        /// The point.
        point: Arc<str>,
        /// The name.
        name: Arc<str>,
    },
    /// A zero timeout would time out every call.
    #[error("hook {name:?} on point {point:?}: the timeout must be above zero")]
    ZeroTimeout {
        /// The point.
        point: Arc<str>,
        /// The hook.
        name: Arc<str>,
    },
    /// A zero cache TTL would cache nothing.
    #[error("hook {name:?} on point {point:?}: the cache TTL must be above zero")]
    ZeroCacheTtl {
        /// The point.
        point: Arc<str>,
        /// The hook.
        name: Arc<str>,
    },
    /// The breaker configuration is invalid.
    #[error("hook {name:?} on point {point:?}: breaker: {source}")]
    Breaker {
        /// The point.
        point: Arc<str>,
        /// The hook.
        name: Arc<str>,
        /// What is wrong with the configuration.
        source: BreakerConfigError,
    },
    /// A cache TTL was asked for, but the registry has no digest to key results by.
    #[error(
        "hook {name:?} on point {point:?} caches results, but the registry has no digest: \
         set RegistryBuilder::digest"
    )]
    NoDigest {
        /// The point.
        point: Arc<str>,
        /// The hook.
        name: Arc<str>,
    },
}

/// One registered hook and everything the executor needs to run it.
pub(crate) struct Entry<C> {
    pub(crate) id: u64,
    pub(crate) point: Arc<str>,
    pub(crate) name: Arc<str>,
    pub(crate) priority: i32,
    pub(crate) timeout: Option<Duration>,
    pub(crate) cache_ttl: Option<Duration>,
    pub(crate) latency_threshold: Duration,
    pub(crate) enabled: AtomicBool,
    pub(crate) breaker: Option<CircuitBreaker>,
    pub(crate) callable: Callable<C>,
    pub(crate) recorder: HookRecorder,
}

impl<C> Entry<C> {
    fn metrics(&self) -> HookMetrics {
        let r = &self.recorder;
        HookMetrics {
            point: self.point.clone(),
            name: self.name.clone(),
            latency: r.latency.snapshot(),
            failures: r.failures.get(),
            timeouts: r.timeouts.get(),
            rejections: r.rejections.get(),
            cancels: r.cancels.get(),
            cache_hits: r.cache_hits.get(),
            threshold_violations: r.threshold_violations.get(),
        }
    }
}

impl<C> fmt::Debug for Entry<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hook")
            .field("point", &self.point)
            .field("name", &self.name)
            .field("priority", &self.priority)
            .field("enabled", &self.enabled.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A point as runs see it: its configuration and its hooks in run order.
pub(crate) struct Point<C> {
    pub(crate) name: Arc<str>,
    pub(crate) config: PointConfig<C>,
    pub(crate) recorder: Arc<PointRecorder>,
    pub(crate) hooks: Box<[Arc<Entry<C>>]>,
}

impl<C> Point<C> {
    fn with_hooks(&self, hooks: Vec<Arc<Entry<C>>>) -> Self {
        Self {
            name: self.name.clone(),
            config: self.config.clone(),
            recorder: Arc::clone(&self.recorder),
            hooks: hooks.into(),
        }
    }
}

struct Snapshot<C> {
    points: Map<Arc<Point<C>>>,
}

struct Inner<C> {
    snapshot: ArcSwap<Snapshot<C>>,
    /// Serializes registrations, so each copies the snapshot it replaces.
    writes: Mutex<()>,
    next_id: AtomicU64,
    enabled: AtomicBool,
    clock: Arc<dyn Clock>,
    digest: Option<Arc<Digest<C>>>,
    events: Option<Topic<HookEvent>>,
}

/// Hooks by point, shared by every executor and handle (cloning it is cheap).
///
/// Runs read a snapshot of the registry without taking a lock; registering, unregistering or
/// configuring a point copies the affected point and swaps the snapshot, so a run in flight keeps
/// the hooks it started with. Each hook's breaker and metrics are made once, at registration.
///
/// ```
/// use stanchion_hooks::{Action, HookOptions, HookRegistry};
///
/// let registry = HookRegistry::<String>::new();
/// let audit = registry.register_fn("pre_tool_use", |_| Ok(Action::Continue), HookOptions::new("audit"))?;
/// registry.register_fn(
///     "pre_tool_use",
///     |cmd: &String| Ok(Action::Modify(cmd.trim().to_owned())),
///     HookOptions { priority: -1, ..HookOptions::new("trim") },
/// )?;
/// assert_eq!(registry.hooks("pre_tool_use"), ["trim".into(), "audit".into()]);
///
/// assert!(audit.unregister());
/// assert_eq!(registry.hooks("pre_tool_use"), ["trim".into()]);
/// # Ok::<(), stanchion_hooks::RegisterError>(())
/// ```
pub struct HookRegistry<C> {
    inner: Arc<Inner<C>>,
}

impl<C> Clone for HookRegistry<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C> fmt::Debug for HookRegistry<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let snapshot = self.inner.snapshot.load();
        let mut points: Vec<_> = snapshot.points.values().collect();
        points.sort_by(|a, b| a.name.cmp(&b.name));
        let mut map = f.debug_map();
        for point in points {
            map.entry(&point.name, &point.hooks);
        }
        map.finish()
    }
}

/// Builds a [`HookRegistry`].
pub struct RegistryBuilder<C> {
    clock: Arc<dyn Clock>,
    digest: Option<Arc<Digest<C>>>,
    events: Option<Topic<HookEvent>>,
}

impl<C> fmt::Debug for RegistryBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryBuilder")
            .field("clock", &self.clock)
            .field("digest", &self.digest.is_some())
            .field("events", &self.events.as_ref().map(Topic::name))
            .finish()
    }
}

impl<C> RegistryBuilder<C> {
    /// The clock that hook latencies, breaker windows and cache TTLs are measured with.
    /// Default [`SystemClock`]. (Timeouts sleep on Tokio's timer.)
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How an input is keyed in the result cache, for hooks with a
    /// [`cache_ttl`](HookOptions::cache_ttl). Two inputs with the same digest share cached results,
    /// so the digest must tell apart every input a cached hook can answer differently.
    pub fn digest(mut self, digest: impl Fn(&C) -> u64 + Send + Sync + 'static) -> Self {
        self.digest = Some(Arc::new(digest));
        self
    }

    /// Publish [`HookEvent`]s on `topic`: hooks starting, finishing and failing, and breaker
    /// transitions. Use a [`DropOldest`](stanchion_bus::Overflow::DropOldest) topic: the executor
    /// never waits for the bus.
    pub fn events(mut self, topic: Topic<HookEvent>) -> Self {
        self.events = Some(topic);
        self
    }

    /// The registry.
    pub fn build(self) -> HookRegistry<C> {
        HookRegistry {
            inner: Arc::new(Inner {
                snapshot: ArcSwap::from_pointee(Snapshot {
                    points: Map::default(),
                }),
                writes: Mutex::new(()),
                next_id: AtomicU64::new(0),
                enabled: AtomicBool::new(true),
                clock: self.clock,
                digest: self.digest,
                events: self.events,
            }),
        }
    }
}

impl<C: Send + Sync + 'static> HookRegistry<C> {
    /// A registry on the system clock, without a digest or events.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Configures a registry.
    pub fn builder() -> RegistryBuilder<C> {
        RegistryBuilder {
            clock: Arc::new(SystemClock),
            digest: None,
            events: None,
        }
    }

    /// Registers an async hook on `point`.
    ///
    /// # Errors
    ///
    /// [`RegisterError`] naming what is wrong with `options`.
    pub fn register(
        &self,
        point: &str,
        hook: impl Hook<C>,
        options: HookOptions,
    ) -> Result<HookHandle<C>, RegisterError> {
        self.add(point, Callable::from_hook(hook), options)
    }

    /// Registers a synchronous hook on `point`. It runs inline on the caller's task: no future is
    /// allocated for it.
    ///
    /// # Errors
    ///
    /// As [`register`](Self::register).
    pub fn register_fn(
        &self,
        point: &str,
        hook: impl Fn(&C) -> HookResult<C> + Send + Sync + 'static,
        options: HookOptions,
    ) -> Result<HookHandle<C>, RegisterError> {
        self.add(point, Callable::from_fn(hook), options)
    }

    fn add(
        &self,
        point: &str,
        callable: Callable<C>,
        options: HookOptions,
    ) -> Result<HookHandle<C>, RegisterError> {
        let point: Arc<str> = point.into();
        let name = options.name;
        if name.is_empty() {
            return Err(RegisterError::EmptyName { point });
        }
        if options.timeout == Some(Duration::ZERO) {
            return Err(RegisterError::ZeroTimeout { point, name });
        }
        if options.cache_ttl == Some(Duration::ZERO) {
            return Err(RegisterError::ZeroCacheTtl { point, name });
        }
        if options.cache_ttl.is_some() && self.inner.digest.is_none() {
            return Err(RegisterError::NoDigest { point, name });
        }
        let breaker = options
            .breaker
            .map(|config| {
                CircuitBreaker::builder()
                    .config(config)
                    .shared_clock(Arc::clone(&self.inner.clock))
                    .build()
            })
            .transpose()
            .map_err(|source| RegisterError::Breaker {
                point: point.clone(),
                name: name.clone(),
                source,
            })?;
        // Bridged before the hook is published, so no transition can happen unseen.
        if let (Some(breaker), Some(topic)) = (&breaker, &self.inner.events) {
            let (topic, point, hook) = (topic.clone(), point.clone(), name.clone());
            breaker.on_event(move |event| {
                if let &BreakerEvent::StateTransition { from, to } = event
                    && topic.has_subscribers()
                {
                    let _ = topic.try_publish(HookEvent::Breaker {
                        point: point.clone(),
                        hook: hook.clone(),
                        from,
                        to,
                    });
                }
            });
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(Entry {
            id,
            point: point.clone(),
            name: name.clone(),
            priority: options.priority,
            timeout: options.timeout,
            cache_ttl: options.cache_ttl,
            latency_threshold: options.latency_threshold,
            enabled: AtomicBool::new(options.enabled),
            breaker,
            callable,
            recorder: HookRecorder::new(),
        });
        self.update(&point, |current| {
            if current.hooks.iter().any(|hook| hook.name == name) {
                return Err(RegisterError::Duplicate {
                    point: point.clone(),
                    name: name.clone(),
                });
            }
            let mut hooks = current.hooks.to_vec();
            // After every hook of a lower or equal priority: ties run in registration order.
            let at = hooks.partition_point(|hook| hook.priority <= entry.priority);
            hooks.insert(at, entry);
            Ok(Some(current.with_hooks(hooks)))
        })?;
        Ok(HookHandle {
            registry: Arc::downgrade(&self.inner),
            point,
            name,
            id,
        })
    }

    /// Sets how `point` runs (mode, validator, merge), creating it if it has no hooks yet.
    pub fn configure_point(&self, point: &str, config: PointConfig<C>) {
        let _ = self.update::<()>(point, |current| {
            Ok(Some(Point {
                config,
                ..current.with_hooks(current.hooks.to_vec())
            }))
        });
    }

    /// Removes the hook called `name` from `point`; runs already started still run it.
    /// Returns whether there was one.
    pub fn unregister(&self, point: &str, name: &str) -> bool {
        self.remove(point, |hook| &*hook.name == name)
    }

    fn remove(&self, point: &str, matches: impl Fn(&Entry<C>) -> bool) -> bool {
        let mut found = false;
        let _ = self.update::<()>(point, |current| {
            let hooks: Vec<_> = current
                .hooks
                .iter()
                .filter(|hook| !matches(hook))
                .cloned()
                .collect();
            found = hooks.len() < current.hooks.len();
            Ok(found.then(|| current.with_hooks(hooks)))
        });
        found
    }

    /// Replaces `point` in a new snapshot with what `change` makes of it (given an empty point
    /// when it does not exist yet); `Ok(None)` leaves the snapshot as it is.
    fn update<E>(
        &self,
        point: &str,
        change: impl FnOnce(&Point<C>) -> Result<Option<Point<C>>, E>,
    ) -> Result<(), E> {
        let _writing = lock(&self.inner.writes);
        let snapshot = self.inner.snapshot.load();
        let empty;
        let current = match snapshot.points.get(point) {
            Some(current) => current,
            None => {
                empty = Point {
                    name: point.into(),
                    config: PointConfig::default(),
                    recorder: Arc::new(PointRecorder::new()),
                    hooks: Box::default(),
                };
                &empty
            }
        };
        let Some(changed) = change(current)? else {
            return Ok(());
        };
        let mut points = snapshot.points.clone();
        points.insert(changed.name.clone(), Arc::new(changed));
        self.inner.snapshot.store(Arc::new(Snapshot { points }));
        Ok(())
    }
}

impl<C> HookRegistry<C> {
    /// The point as runs see it now, if it exists.
    pub(crate) fn point(&self, point: &str) -> Option<Arc<Point<C>>> {
        self.inner.snapshot.load().points.get(point).cloned()
    }

    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    pub(crate) fn digest(&self) -> Option<&Digest<C>> {
        self.inner.digest.as_deref()
    }

    pub(crate) fn events(&self) -> Option<&Topic<HookEvent>> {
        self.inner.events.as_ref()
    }

    fn find<T>(&self, point: &str, name: &str, f: impl FnOnce(&Entry<C>) -> T) -> Option<T> {
        let point = self.point(point)?;
        point
            .hooks
            .iter()
            .find(|hook| &*hook.name == name)
            .map(|hook| f(hook))
    }

    /// Turns every hook on or off at once; off, runs execute no hook (validators still apply).
    pub fn set_enabled(&self, enabled: bool) {
        self.inner.enabled.store(enabled, Ordering::Relaxed);
    }

    /// Whether hooks run at all.
    pub fn is_enabled(&self) -> bool {
        self.inner.enabled.load(Ordering::Relaxed)
    }

    /// Turns one hook on or off. Returns whether `point` has a hook called `name`.
    pub fn set_hook_enabled(&self, point: &str, name: &str, enabled: bool) -> bool {
        self.find(point, name, |hook| {
            hook.enabled.store(enabled, Ordering::Relaxed);
        })
        .is_some()
    }

    /// The names of `point`'s hooks in the order they run.
    pub fn hooks(&self, point: &str) -> Vec<Arc<str>> {
        self.point(point)
            .map(|point| point.hooks.iter().map(|hook| hook.name.clone()).collect())
            .unwrap_or_default()
    }

    /// The names of every point, sorted.
    pub fn points(&self) -> Vec<Arc<str>> {
        let mut names: Vec<_> = self.inner.snapshot.load().points.keys().cloned().collect();
        names.sort();
        names
    }

    /// The breaker of a hook, to watch or steer it (force it open, reset it). With events on,
    /// one of its listeners forwards transitions to the bus: `clear_listeners` removes that too.
    pub fn breaker(&self, point: &str, name: &str) -> Option<CircuitBreaker> {
        self.find(point, name, |hook| hook.breaker.clone())
            .flatten()
    }

    /// A hook's metrics.
    pub fn hook_metrics(&self, point: &str, name: &str) -> Option<HookMetrics> {
        self.find(point, name, Entry::metrics)
    }

    /// A point's metrics.
    pub fn point_metrics(&self, point: &str) -> Option<PointMetrics> {
        self.point(point).map(|point| {
            let hooks = point.hooks.iter().map(|hook| &hook.recorder);
            point.recorder.snapshot(&point.name, hooks)
        })
    }

    /// Every hook's metrics, by point then run order.
    pub fn metrics(&self) -> Vec<HookMetrics> {
        let snapshot = self.inner.snapshot.load();
        let mut points: Vec<_> = snapshot.points.values().collect();
        points.sort_by(|a, b| a.name.cmp(&b.name));
        points
            .iter()
            .flat_map(|point| point.hooks.iter().map(|hook| hook.metrics()))
            .collect()
    }
}

impl<C: Send + Sync + 'static> Default for HookRegistry<C> {
    fn default() -> Self {
        Self::new()
    }
}

/// A registered hook, returned by [`HookRegistry::register`]. Dropping it leaves the hook
/// registered; [`unregister`](Self::unregister) removes it.
pub struct HookHandle<C> {
    registry: Weak<Inner<C>>,
    point: Arc<str>,
    name: Arc<str>,
    id: u64,
}

impl<C> fmt::Debug for HookHandle<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookHandle")
            .field("point", &self.point)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<C: Send + Sync + 'static> HookHandle<C> {
    /// The point the hook is registered on.
    pub fn point(&self) -> &str {
        &self.point
    }

    /// The hook's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn registry(&self) -> Option<HookRegistry<C>> {
        self.registry.upgrade().map(|inner| HookRegistry { inner })
    }

    /// Removes this hook (not a later one registered under the same name). Runs already started
    /// still run it. Returns whether it was still registered.
    pub fn unregister(self) -> bool {
        self.registry()
            .is_some_and(|registry| registry.remove(&self.point, |hook| hook.id == self.id))
    }

    /// Turns this hook on or off. Returns whether it is still registered.
    pub fn set_enabled(&self, enabled: bool) -> bool {
        self.registry().is_some_and(|registry| {
            registry
                .point(&self.point)
                .and_then(|point| {
                    let hook = point.hooks.iter().find(|hook| hook.id == self.id)?;
                    hook.enabled.store(enabled, Ordering::Relaxed);
                    Some(())
                })
                .is_some()
        })
    }
}
