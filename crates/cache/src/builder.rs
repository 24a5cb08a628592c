use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use stanchion_core::{Clock, SystemClock};

use crate::cache::{Cache, Config};
use crate::error::ConfigError;
use crate::stats::RemovalCause;

pub(crate) type Weigher<K, V> = Arc<dyn Fn(&K, &V) -> u32 + Send + Sync>;
pub(crate) type Listener<K, V> = Arc<dyn Fn(K, V, RemovalCause) + Send + Sync>;

/// Entries a shard should hold at least, so that sharding does not cost hit ratio.
const MIN_ENTRIES_PER_SHARD: u64 = 2048;

/// Configures and builds a [`Cache`].
///
/// The cache is bounded either by a number of entries ([`max_capacity`](Self::max_capacity)) or
/// by a total weight ([`max_weight`](Self::max_weight) with a [`weigher`](Self::weigher)).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use stanchion_cache::Cache;
///
/// let cache: Cache<String, Vec<u8>> = Cache::builder()
///     .max_weight(64 * 1024 * 1024)
///     .weigher(|key: &String, value: &Vec<u8>| (key.len() + value.len()) as u32)
///     .time_to_live(Duration::from_secs(300))
///     .build()?;
/// cache.insert("logo.png".to_string(), vec![0; 1024]);
/// assert_eq!(cache.weight(), 1032);
/// # Ok::<(), stanchion_cache::ConfigError>(())
/// ```
pub struct CacheBuilder<K, V> {
    max_capacity: Option<u64>,
    max_weight: Option<u64>,
    weigher: Option<Weigher<K, V>>,
    time_to_live: Option<Duration>,
    time_to_idle: Option<Duration>,
    listener: Option<Listener<K, V>>,
    clock: Arc<dyn Clock>,
    shards: Option<usize>,
}

impl<K, V> fmt::Debug for CacheBuilder<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheBuilder")
            .field("max_capacity", &self.max_capacity)
            .field("max_weight", &self.max_weight)
            .field("weigher", &self.weigher.is_some())
            .field("time_to_live", &self.time_to_live)
            .field("time_to_idle", &self.time_to_idle)
            .field("eviction_listener", &self.listener.is_some())
            .field("clock", &self.clock)
            .field("shards", &self.shards)
            .finish()
    }
}

impl<K, V> Default for CacheBuilder<K, V> {
    fn default() -> Self {
        Self {
            max_capacity: None,
            max_weight: None,
            weigher: None,
            time_to_live: None,
            time_to_idle: None,
            listener: None,
            clock: Arc::new(SystemClock),
            shards: None,
        }
    }
}

impl<K, V> CacheBuilder<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Bounds the cache to `entries` entries. Zero is rejected by `build`.
    pub fn max_capacity(mut self, entries: u64) -> Self {
        self.max_capacity = Some(entries);
        self
    }

    /// Bounds the summed weight of the entries; needs a [`weigher`](Self::weigher).
    pub fn max_weight(mut self, weight: u64) -> Self {
        self.max_weight = Some(weight);
        self
    }

    /// Weighs an entry when it is inserted. An entry may weigh up to the maximum weight, whatever
    /// the shards (one heavier than its shard's share borrows capacity from the others, which
    /// evict to make room). A heavier entry is refused: [`Cache::try_insert`] hands it back,
    /// [`Cache::insert`] reports it to the listener and the statistics as
    /// [`RemovalCause::Rejected`]. Zero weighs as one.
    pub fn weigher(mut self, weigher: impl Fn(&K, &V) -> u32 + Send + Sync + 'static) -> Self {
        self.weigher = Some(Arc::new(weigher));
        self
    }

    /// Entries expire this long after they were inserted.
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.time_to_live = Some(ttl);
        self
    }

    /// Entries expire this long after they were last read or written.
    pub fn time_to_idle(mut self, tti: Duration) -> Self {
        self.time_to_idle = Some(tti);
        self
    }

    /// Called with each entry that leaves the cache and why, after the cache's locks are released
    /// (the listener may use the cache). Replacements pass the new key with the old value.
    pub fn eviction_listener(
        mut self,
        listener: impl Fn(K, V, RemovalCause) + Send + Sync + 'static,
    ) -> Self {
        self.listener = Some(Arc::new(listener));
        self
    }

    /// The clock expiry is measured with; a `ManualClock` in tests.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How many independently locked shards to use: a power of two, at most the capacity.
    /// By default four per core, fewer for small caches so each shard keeps at least 2,048 entries
    /// (a shard's policy sees only its own keys, and very small shards lose hit ratio), or 2,048
    /// units of weight with [`max_weight`](Self::max_weight).
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// Builds the cache.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the setting when: neither or both of `max_capacity` and
    /// `max_weight` are set, either is zero, `max_weight` lacks a weigher or a weigher lacks
    /// `max_weight`, a time to live or idle is zero, or `shards` is not a power of two at most the
    /// capacity.
    pub fn build(self) -> Result<Cache<K, V>, ConfigError> {
        let capacity = match (self.max_capacity, self.max_weight) {
            (Some(entries), None) => {
                if self.weigher.is_some() {
                    return Err(ConfigError::new(
                        "weigher",
                        "set",
                        "max_weight with a weigher",
                    ));
                }
                entries
            }
            (None, Some(weight)) => {
                if self.weigher.is_none() {
                    return Err(ConfigError::new(
                        "weigher",
                        "unset",
                        "a weigher with max_weight",
                    ));
                }
                weight
            }
            (None, None) => {
                return Err(ConfigError::new(
                    "max_capacity",
                    "unset",
                    "max_capacity or max_weight",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "max_weight",
                    "set",
                    "only one of max_capacity and max_weight",
                ));
            }
        };
        let field = if self.max_weight.is_some() {
            "max_weight"
        } else {
            "max_capacity"
        };
        if capacity == 0 {
            return Err(ConfigError::new(field, 0, "at least 1"));
        }
        for (field, duration) in [
            ("time_to_live", self.time_to_live),
            ("time_to_idle", self.time_to_idle),
        ] {
            if duration == Some(Duration::ZERO) {
                return Err(ConfigError::new(field, Duration::ZERO, "more than zero"));
            }
        }
        let shards = match self.shards {
            Some(shards) if !shards.is_power_of_two() || shards as u64 > capacity => {
                return Err(ConfigError::new(
                    "shards",
                    shards,
                    "a power of two at most the capacity",
                ));
            }
            Some(shards) => shards,
            // By weight too: an entry weighs at least 1, so the weight bounds the entries, and
            // a shard must hold at least one unit of it.
            None => default_shards(capacity),
        };
        Ok(Cache::from_config(Config {
            capacity,
            shards,
            weigher: self.weigher,
            time_to_live: self.time_to_live,
            time_to_idle: self.time_to_idle,
            listener: self.listener,
            clock: self.clock,
        }))
    }
}

/// Four shards per core, fewer when that would leave a shard under `MIN_ENTRIES_PER_SHARD`.
fn default_shards(entries: u64) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let by_cores = (cores * 4).next_power_of_two();
    let by_size = (entries / MIN_ENTRIES_PER_SHARD).max(1);
    let by_size = 1usize << (63 - by_size.leading_zeros()).min(20);
    by_cores.min(by_size)
}
