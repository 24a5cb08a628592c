//! Per-hook and per-point metrics: counters and a latency histogram that many runs record into at
//! once without a lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Sub-buckets per power of two: a recorded latency is reported within 1/16 (6.25%) above it.
const SUB_BITS: u32 = 4;
const SUB: usize = 1 << SUB_BITS;
/// Latencies from 2^40 ns (about 18 minutes) up share the top bucket; `max` stays exact.
const TOP_EXP: u32 = 40;
const BUCKETS: usize = (TOP_EXP - SUB_BITS + 1) as usize * SUB;

/// A log-linear histogram of nanoseconds, HdrHistogram's layout with atomic counts: recording is
/// one `fetch_add` and usually one load. Snapshots taken while runs record may miss the newest
/// values, never invent any.
pub(crate) struct Histogram {
    counts: Box<[AtomicU64]>,
    max: AtomicU64,
}

impl Histogram {
    pub(crate) fn new() -> Self {
        Self {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            max: AtomicU64::new(0),
        }
    }

    #[inline]
    pub(crate) fn record(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.counts[bucket(nanos)].fetch_add(1, Ordering::Relaxed);
        if nanos > self.max.load(Ordering::Relaxed) {
            self.max.fetch_max(nanos, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> Latency {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let max = self.max.load(Ordering::Relaxed);
        let count = counts.iter().sum();
        let quantile = |q: f64| {
            if count == 0 {
                return Duration::ZERO;
            }
            // The rank of the q-quantile among `count` values, 1-based: ceil(q * count).
            let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
            let mut seen = 0;
            let index = counts
                .iter()
                .position(|&c| {
                    seen += c;
                    seen >= rank
                })
                .unwrap_or(BUCKETS - 1);
            Duration::from_nanos(upper_bound(index).min(max))
        };
        Latency {
            count,
            p50: quantile(0.50),
            p95: quantile(0.95),
            p99: quantile(0.99),
            max: Duration::from_nanos(max),
        }
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.snapshot().fmt(f)
    }
}

/// The bucket of `nanos`: exact below 16, then 16 sub-buckets per power of two.
fn bucket(nanos: u64) -> usize {
    if nanos < SUB as u64 {
        return nanos as usize;
    }
    let exp = u64::BITS - 1 - nanos.leading_zeros();
    if exp >= TOP_EXP {
        return BUCKETS - 1;
    }
    // The top SUB_BITS + 1 bits of `nanos`, without the leading one.
    let sub = (nanos >> (exp - SUB_BITS)) as usize & (SUB - 1);
    (exp - SUB_BITS + 1) as usize * SUB + sub
}

/// The largest value that falls in bucket `index`.
fn upper_bound(index: usize) -> u64 {
    if index < SUB {
        return index as u64;
    }
    let exp = (index / SUB) as u32 + SUB_BITS - 1;
    let width = 1u64 << (exp - SUB_BITS);
    let lower = (SUB + index % SUB) as u64 * width;
    lower + width - 1
}

/// Latency percentiles. Each is the upper edge of its histogram bucket (at most 6.25% above the
/// true value) and never above `max`, which is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Latency {
    /// Values recorded.
    pub count: u64,
    /// Median.
    pub p50: Duration,
    /// 95th percentile.
    pub p95: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// The largest value recorded.
    pub max: Duration,
}

/// One counter of a hook or point: a plain atomic, since each is touched only on its own outcome.
#[derive(Debug, Default)]
pub(crate) struct Count(AtomicU64);

impl Count {
    #[inline]
    pub(crate) fn increment(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What a hook's runs are recorded into; lives as long as the hook is registered.
#[derive(Debug)]
pub(crate) struct HookRecorder {
    pub(crate) latency: Histogram,
    pub(crate) failures: Count,
    pub(crate) timeouts: Count,
    pub(crate) rejections: Count,
    pub(crate) cancels: Count,
    pub(crate) cache_hits: Count,
    pub(crate) threshold_violations: Count,
}

impl HookRecorder {
    pub(crate) fn new() -> Self {
        Self {
            latency: Histogram::new(),
            failures: Count::default(),
            timeouts: Count::default(),
            rejections: Count::default(),
            cancels: Count::default(),
            cache_hits: Count::default(),
            threshold_violations: Count::default(),
        }
    }
}

/// A hook's metrics, from [`HookRegistry::hook_metrics`](crate::HookRegistry::hook_metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HookMetrics {
    /// The point the hook is registered on.
    pub point: std::sync::Arc<str>,
    /// The hook's name.
    pub name: std::sync::Arc<str>,
    /// Times the hook ran (whatever the outcome), and how long each took. A timed-out call counts
    /// with the time it was allowed; a cached or rejected one does not run.
    pub latency: Latency,
    /// Runs that returned an error or panicked.
    pub failures: u64,
    /// Runs that passed their timeout.
    pub timeouts: u64,
    /// Calls refused by the hook's open breaker.
    pub rejections: u64,
    /// Runs that returned [`Action::Cancel`](crate::Action::Cancel).
    pub cancels: u64,
    /// Calls answered from the result cache.
    pub cache_hits: u64,
    /// Runs slower than the hook's latency threshold.
    pub threshold_violations: u64,
}

/// What a point's runs are recorded into.
#[derive(Debug)]
pub(crate) struct PointRecorder {
    pub(crate) latency: Histogram,
    pub(crate) cancelled: Count,
    pub(crate) failed: Count,
    pub(crate) invalid: Count,
}

impl PointRecorder {
    pub(crate) fn new() -> Self {
        Self {
            latency: Histogram::new(),
            cancelled: Count::default(),
            failed: Count::default(),
            invalid: Count::default(),
        }
    }

    /// The point's metrics, with the totals of `hooks`, the hooks registered on it now.
    pub(crate) fn snapshot<'h>(
        &self,
        point: &std::sync::Arc<str>,
        hooks: impl Iterator<Item = &'h HookRecorder>,
    ) -> PointMetrics {
        let mut metrics = PointMetrics {
            point: point.clone(),
            latency: self.latency.snapshot(),
            cancelled: self.cancelled.get(),
            failed: self.failed.get(),
            invalid: self.invalid.get(),
            hook_failures: 0,
            hook_timeouts: 0,
            hook_rejections: 0,
            hook_threshold_violations: 0,
        };
        for hook in hooks {
            metrics.hook_failures += hook.failures.get();
            metrics.hook_timeouts += hook.timeouts.get();
            metrics.hook_rejections += hook.rejections.get();
            metrics.hook_threshold_violations += hook.threshold_violations.get();
        }
        metrics
    }
}

/// A point's metrics, from [`HookRegistry::point_metrics`](crate::HookRegistry::point_metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PointMetrics {
    /// The point.
    pub point: std::sync::Arc<str>,
    /// Runs that passed validation while the registry was enabled, and how long each took with
    /// all its hooks.
    pub latency: Latency,
    /// Runs a hook cancelled.
    pub cancelled: u64,
    /// Runs that ended [`RunStatus::Failed`](crate::RunStatus::Failed).
    pub failed: u64,
    /// Runs whose input the point's validator refused.
    pub invalid: u64,
    /// Failures of the hooks registered now (an unregistered hook's counts leave with it).
    pub hook_failures: u64,
    /// Timeouts of the hooks registered now.
    pub hook_timeouts: u64,
    /// Breaker rejections of the hooks registered now.
    pub hook_rejections: u64,
    /// Threshold violations of the hooks registered now.
    pub hook_threshold_violations: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_bound_their_values_within_a_sixteenth() {
        let small = 0..100_000u64;
        assert!(
            small.clone().map(bucket).is_sorted(),
            "buckets follow the values"
        );
        for nanos in small.chain((0..64).map(|s| 1 << s)).chain([u64::MAX]) {
            let index = bucket(nanos);
            assert!(index < BUCKETS);
            if nanos < 1 << TOP_EXP {
                let upper = upper_bound(index);
                assert!(upper >= nanos, "{nanos} above its bucket's bound {upper}");
                assert!(
                    (upper - nanos) as f64 <= nanos as f64 / 16.0,
                    "{nanos} reported as {upper}"
                );
            }
        }
    }

    #[test]
    fn percentiles_follow_the_values() {
        let histogram = Histogram::new();
        for micros in 1..=100u64 {
            histogram.record(Duration::from_micros(micros));
        }
        let latency = histogram.snapshot();
        assert_eq!(latency.count, 100);
        assert_eq!(latency.max, Duration::from_micros(100));
        let near = |got: Duration, want: u64| {
            let (got, want) = (got.as_nanos() as f64, (want * 1000) as f64);
            assert!(got >= want && got <= want * 1.0625, "{got} for {want}");
        };
        near(latency.p50, 50);
        near(latency.p95, 95);
        near(latency.p99, 99);
        assert_eq!(Histogram::new().snapshot(), Latency::default());
    }
}
