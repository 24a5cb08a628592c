use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::time::Duration;

use stanchion_core::{CachePadded, Clock, Stopwatch};

use crate::builder::{CacheBuilder, Listener, Weigher};
use crate::error::InsertError;
use crate::flight::Flights;
use crate::shard::{Incoming, NEVER, Now, Removed, Shard, ShardConfig};
use crate::stats::{CacheStats, RemovalCause};
use crate::sync::{Arc, AtomicU64, Mutex, Ordering, lock};

/// Whose value an insert stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writer {
    /// The caller's own: it replaces whatever the key had.
    Caller,
    /// A load's, begun when the cache's invalidation epoch was `epoch`: it yields to
    /// invalidations and to writes made while it ran.
    Load { epoch: u64 },
}

pub(crate) struct Config<K, V> {
    pub(crate) capacity: u64,
    pub(crate) shards: usize,
    pub(crate) weigher: Option<Weigher<K, V>>,
    pub(crate) time_to_live: Option<Duration>,
    pub(crate) time_to_idle: Option<Duration>,
    pub(crate) listener: Option<Listener<K, V>>,
    pub(crate) clock: std::sync::Arc<dyn Clock>,
}

/// A concurrent, bounded cache with expiry, single-flight loads and invalidation.
///
/// Cloning is cheap and clones share the entries. Keys are spread over independently locked
/// shards; a read takes one shard's lock for a hash-table probe and a counter bump, a write also
/// runs the eviction policy (S3-FIFO with a frequency-guarded ghost, see the crate docs).
///
/// # Examples
///
/// ```
/// use stanchion_cache::Cache;
///
/// let cache = Cache::new(1_000);
/// cache.insert("answer", 42);
/// assert_eq!(cache.get("answer"), Some(42));
/// assert_eq!(cache.get_or_insert_with("question", || 6 * 7), 42);
/// assert_eq!(cache.stats().hits, 1);
/// ```
pub struct Cache<K, V> {
    pub(crate) inner: Arc<Inner<K, V>>,
}

/// A shard behind its own lock, on cache lines of its own.
type LockedShard<K, V> = CachePadded<Mutex<Shard<K, V>>>;

/// Where the bits that pick a shard start in a key's hash: above those hashbrown uses to place an
/// entry in a shard of any realistic size, below the seven it tags entries with.
const SHARD_BITS: u32 = 32;

pub(crate) struct Inner<K, V> {
    shards: Box<[LockedShard<K, V>]>,
    /// `shards - 1`: the shard is the hash's bits from `SHARD_BITS` up, masked.
    shard_mask: usize,
    hasher: foldhash::fast::RandomState,
    /// The heaviest entry a shard can hold.
    entry_limit: u64,
    weigher: Option<Weigher<K, V>>,
    listener: Option<Listener<K, V>>,
    /// Time for expiry, in nanoseconds since the cache was built: for `SystemClock` a read of the
    /// time-stamp counter and a multiply, inline, which every hit on an entry that can expire
    /// needs.
    time: Stopwatch,
    time_to_live: Option<u64>,
    /// Bumped by every removal an in-flight load must not undo (remove, invalidate, clear).
    pub(crate) epoch: AtomicU64,
    pub(crate) flights: Flights<K, V>,
}

impl<K, V> Clone for Cache<K, V> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K, V> fmt::Debug for Cache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("shards", &self.inner.shards.len())
            .field("entry_limit", &self.inner.entry_limit)
            .finish_non_exhaustive()
    }
}

/// Reads the clock once, on first use.
struct LazyNow<'a> {
    time: &'a Stopwatch,
    nanos: Option<u64>,
}

impl Now for LazyNow<'_> {
    fn nanos(&mut self) -> u64 {
        *self
            .nanos
            .get_or_insert_with(|| self.time.nanos().min(NEVER - 1))
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(NEVER)
}

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A cache of at most `max_capacity` entries, without expiry.
    ///
    /// # Panics
    ///
    /// If `max_capacity` is zero; [`Cache::builder`] reports that as an error instead.
    pub fn new(max_capacity: u64) -> Self {
        Self::builder()
            .max_capacity(max_capacity)
            .build()
            .expect("Cache::new needs a max_capacity of at least 1")
    }

    /// A builder for every setting: weight, expiry, listener, clock, shards.
    pub fn builder() -> CacheBuilder<K, V> {
        CacheBuilder::default()
    }

    pub(crate) fn from_config(config: Config<K, V>) -> Self {
        let shards = config.shards as u64;
        let shard_capacity = config.capacity / shards;
        let remainder = config.capacity % shards;
        let time_to_idle = config.time_to_idle.map(nanos);
        let built: Vec<_> = (0..shards)
            .map(|index| {
                let capacity = shard_capacity + u64::from(index < remainder);
                CachePadded(Mutex::new(Shard::new(ShardConfig {
                    capacity,
                    weighted: config.weigher.is_some(),
                    time_to_idle,
                })))
            })
            .collect();
        Self {
            inner: Arc::new(Inner {
                shards: built.into_boxed_slice(),
                shard_mask: config.shards - 1,
                hasher: foldhash::fast::RandomState::default(),
                entry_limit: shard_capacity,
                weigher: config.weigher,
                listener: config.listener,
                time: Stopwatch::start(config.clock),
                time_to_live: config.time_to_live.map(nanos),
                epoch: AtomicU64::new(0),
                flights: Flights::new(config.shards),
            }),
        }
    }

    pub(crate) fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.inner.hasher.hash_one(key)
    }

    fn shard_index(&self, hash: u64) -> usize {
        // Middle bits pick the shard. hashbrown places an entry by the hash's low bits and tags it
        // with the top seven, comparing the key only on a tag match: taking the shard from the
        // top bits would leave fewer distinct tags within a shard, and every false tag match
        // costs a cache miss on the entry.
        (hash >> SHARD_BITS) as usize & self.inner.shard_mask
    }

    fn shard(&self, hash: u64) -> &Mutex<Shard<K, V>> {
        &self.inner.shards[self.shard_index(hash)]
    }

    fn now(&self) -> LazyNow<'_> {
        LazyNow {
            time: &self.inner.time,
            nanos: None,
        }
    }

    pub(crate) fn removed(&self) -> Removed<K, V> {
        Removed::new(self.inner.listener.is_some())
    }

    /// Hands removed entries to the listener; called with no lock held.
    pub(crate) fn notify(&self, removed: Removed<K, V>) {
        if let Some(listener) = &self.inner.listener {
            for (key, value, cause) in removed.entries {
                listener(key, value, cause);
            }
        }
    }

    /// The value for `key`, if it is present and not expired. Counts a hit or a miss.
    ///
    /// # Examples
    ///
    /// ```
    /// let cache = stanchion_cache::Cache::new(10);
    /// cache.insert("a".to_string(), 1);
    /// assert_eq!(cache.get("a"), Some(1));
    /// assert_eq!(cache.get("b"), None);
    /// ```
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let mut now = self.now();
        let mut removed = self.removed();
        let value = lock(self.shard(hash)).get(hash, key, &mut now, &mut removed);
        self.notify(removed);
        value
    }

    /// The live value for `key`, counted neither as a hit nor a miss.
    pub(crate) fn get_uncounted(&self, key: &K) -> Option<V> {
        let hash = self.hash(key);
        lock(self.shard(hash)).peek(hash, key, &mut self.now())
    }

    /// Whether a live entry for `key` is present; not counted as an access.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        lock(self.shard(hash)).contains(hash, key, &mut self.now())
    }

    /// Stores `value` for `key`, replacing any value it had, and evicts as needed.
    ///
    /// An entry the weigher makes too heavy is not stored; it goes to the eviction listener as
    /// [`RemovalCause::Rejected`] and is counted in [`CacheStats::rejections`], and the value `key`
    /// had leaves as [`RemovalCause::Replaced`], so it is not served in the new one's stead. Use
    /// [`try_insert`](Self::try_insert) to get the entry back instead.
    pub fn insert(&self, key: K, value: V) {
        self.insert_reporting(key, value, self.inner.time_to_live);
    }

    /// Like [`insert`](Self::insert), with this entry's own time to live (which replaces the
    /// cache's for this entry).
    pub fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) {
        self.insert_reporting(key, value, Some(nanos(ttl)));
    }

    /// Stores `value` for `key`, or hands both back if the entry is too heavy (and removes the
    /// value `key` had, as [`insert`](Self::insert) does).
    ///
    /// # Errors
    ///
    /// [`InsertError::TooHeavy`] when the weigher gives the entry more than
    /// `max_weight / shards`; it is counted in [`CacheStats::rejections`].
    pub fn try_insert(&self, key: K, value: V) -> Result<(), InsertError<K, V>> {
        let mut removed = self.removed();
        let result = self.insert_inner(
            key,
            value,
            self.inner.time_to_live,
            Writer::Caller,
            &mut removed,
        );
        self.notify(removed);
        result
    }

    /// An insert whose rejected entry goes to the listener.
    fn insert_reporting(&self, key: K, value: V, ttl: Option<u64>) {
        let mut removed = self.removed();
        if let Err(InsertError::TooHeavy { key, value, .. }) =
            self.insert_inner(key, value, ttl, Writer::Caller, &mut removed)
        {
            removed.push(key, value, RemovalCause::Rejected);
        }
        self.notify(removed);
    }

    /// Stores the value a load began at invalidation epoch `epoch` (see [`Writer::Load`]),
    /// gathering what leaves in `removed`.
    pub(crate) fn insert_loaded(
        &self,
        key: K,
        value: V,
        epoch: u64,
        removed: &mut Removed<K, V>,
    ) -> Result<(), InsertError<K, V>> {
        let ttl = self.inner.time_to_live;
        self.insert_inner(key, value, ttl, Writer::Load { epoch }, removed)
    }

    /// Stores an entry, gathering what leaves in `removed` for the caller to hand to the
    /// listener once it holds no lock.
    fn insert_inner(
        &self,
        key: K,
        value: V,
        ttl: Option<u64>,
        writer: Writer,
        removed: &mut Removed<K, V>,
    ) -> Result<(), InsertError<K, V>> {
        let weight = match &self.inner.weigher {
            Some(weigher) => weigher(&key, &value).max(1),
            None => 1,
        };
        let hash = self.hash(&key);
        let mut now = self.now();
        if u64::from(weight) > self.inner.entry_limit {
            let mut shard = lock(self.shard(hash));
            shard.stats.count_removal(RemovalCause::Rejected);
            if writer == Writer::Caller {
                let cause = if shard.contains(hash, &key, &mut now) {
                    RemovalCause::Replaced
                } else {
                    RemovalCause::Expired
                };
                if let Some((key, value)) = shard.remove(hash, &key, cause) {
                    removed.push(key, value, cause);
                }
            }
            return Err(InsertError::TooHeavy {
                key,
                value,
                weight,
                limit: self.inner.entry_limit,
            });
        }
        let deadline = match ttl {
            Some(ttl) => now.nanos().saturating_add(ttl),
            None => NEVER,
        };
        let mut shard = lock(self.shard(hash));
        if let Writer::Load { epoch } = writer {
            // Under the shard's lock: an invalidation moves the epoch before it takes the lock,
            // so it is either seen here or removes what this stores; and a live entry here was
            // written while the load ran, so it is newer than the loaded value.
            if self.inner.epoch.load(Ordering::Acquire) != epoch
                || shard.contains(hash, &key, &mut now)
            {
                return Ok(());
            }
        }
        let incoming = Incoming {
            hash,
            key,
            value,
            weight,
            deadline,
        };
        shard.insert(incoming, &mut now, removed);
        Ok(())
    }

    /// Removes `key`, returning its value if it was present and live. The listener is told
    /// [`RemovalCause::Invalidated`]; a load of `key` in flight will not store its result.
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.inner.epoch.fetch_add(1, Ordering::AcqRel);
        let mut now = self.now();
        let (key, value, live) = {
            let mut shard = lock(self.shard(hash));
            let live = shard.contains(hash, key, &mut now);
            let cause = if live {
                RemovalCause::Invalidated
            } else {
                RemovalCause::Expired
            };
            let (key, value) = shard.remove(hash, key, cause)?;
            (key, value, live)
        };
        let Some(listener) = &self.inner.listener else {
            return live.then_some(value);
        };
        if !live {
            listener(key, value, RemovalCause::Expired);
            return None;
        }
        listener(key, value.clone(), RemovalCause::Invalidated);
        Some(value)
    }

    /// Removes `key`, like [`remove`](Self::remove) without returning the value.
    pub fn invalidate<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove(key);
    }

    /// Removes every entry `predicate` selects. Each shard is locked in turn, so entries
    /// inserted meanwhile into a shard already visited stay; loads in flight will not store.
    ///
    /// `predicate` runs with its entry's shard locked, so it must not call into this cache: that
    /// would deadlock. If it panics, the shard it was looking at keeps all its entries (the
    /// shards before it have been invalidated), and the panic propagates.
    pub fn invalidate_if(&self, mut predicate: impl FnMut(&K, &V) -> bool) {
        self.inner.epoch.fetch_add(1, Ordering::AcqRel);
        for shard in self.inner.shards.iter() {
            let mut removed = self.removed();
            lock(shard).remove_if(&mut predicate, &mut self.now(), &mut removed);
            self.notify(removed);
        }
    }

    /// Removes every entry.
    pub fn clear(&self) {
        self.invalidate_if(|_, _| true);
    }

    /// Entries held, expired ones that no operation has collected yet included; never more than
    /// the capacity.
    pub fn len(&self) -> usize {
        self.inner
            .shards
            .iter()
            .map(|shard| lock(shard).len())
            .sum()
    }

    /// Whether [`len`](Self::len) is zero.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The summed weight of the entries held (their number, without a weigher).
    pub fn weight(&self) -> u64 {
        self.inner
            .shards
            .iter()
            .map(|shard| lock(shard).weight())
            .sum()
    }

    /// Counters since the cache was built.
    pub fn stats(&self) -> CacheStats {
        let mut total = CacheStats::default();
        for shard in self.inner.shards.iter() {
            total += lock(shard).stats;
        }
        total
    }
}

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + AsRef<str> + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Removes every entry whose key starts with `prefix`.
    ///
    /// # Examples
    ///
    /// ```
    /// let cache = stanchion_cache::Cache::new(100);
    /// cache.insert("hook:lint:a".to_string(), 1);
    /// cache.insert("hook:fmt:a".to_string(), 2);
    /// cache.invalidate_prefix("hook:lint:");
    /// assert_eq!(cache.get("hook:lint:a"), None);
    /// assert_eq!(cache.get("hook:fmt:a"), Some(2));
    /// ```
    pub fn invalidate_prefix(&self, prefix: &str) {
        self.invalidate_if(|key, _| key.as_ref().starts_with(prefix));
    }
}
