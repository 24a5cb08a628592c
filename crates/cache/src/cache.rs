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
use crate::sync::{Arc, AtomicU64, Mutex, MutexGuard, Ordering, lock};

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
type LockedShard<K, V> = CachePadded<Mutex<Shard<K, V, Hasher>>>;

/// Hashes a key once per operation, for the shard's pick and the table probe; each shard keeps a
/// copy to rehash its table as it grows and to hash the keys `invalidate_if` selects.
type Hasher = foldhash::fast::RandomState;

/// Where the bits that pick a shard start in a key's hash: above those hashbrown uses to place an
/// entry in a shard of any realistic size, below the seven it tags entries with.
const SHARD_BITS: u32 = 32;

pub(crate) struct Inner<K, V> {
    shards: Box<[LockedShard<K, V>]>,
    /// `shards - 1`: the shard is the hash's bits from `SHARD_BITS` up, masked.
    shard_mask: usize,
    hasher: Hasher,
    /// The cache's capacity: the most all shards hold together, and the heaviest entry.
    capacity: u64,
    /// Capacity no shard holds: given back by a shard once the heavy entry it was lent capacity
    /// for has left, until the shards that lent it take it back. The shards' capacities and the
    /// pool add up to `capacity`.
    pool: AtomicU64,
    /// Held while capacity is gathered for an entry heavier than its shard's capacity, so that
    /// two such inserts do not take capacity back from each other.
    lending: Mutex<()>,
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
            .field("capacity", &self.inner.capacity)
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
        let hasher = Hasher::default();
        let built: Vec<_> = (0..shards)
            .map(|index| {
                let capacity = shard_capacity + u64::from(index < remainder);
                CachePadded(Mutex::new(Shard::new(
                    ShardConfig {
                        capacity,
                        weighted: config.weigher.is_some(),
                        time_to_idle,
                    },
                    hasher.clone(),
                )))
            })
            .collect();
        Self {
            inner: Arc::new(Inner {
                shards: built.into_boxed_slice(),
                shard_mask: config.shards - 1,
                hasher,
                capacity: config.capacity,
                pool: AtomicU64::new(0),
                lending: Mutex::new(()),
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

    fn shard(&self, hash: u64) -> &Mutex<Shard<K, V, Hasher>> {
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
    /// [`InsertError::TooHeavy`] when the weigher gives the entry more than `max_weight`; it is
    /// counted in [`CacheStats::rejections`].
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
        if u64::from(weight) > self.inner.capacity {
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
                limit: self.inner.capacity,
            });
        }
        let deadline = match ttl {
            Some(ttl) => now.nanos().saturating_add(ttl),
            None => NEVER,
        };
        let incoming = Incoming {
            hash,
            key,
            value,
            weight,
            deadline,
        };
        let index = self.shard_index(hash);
        let mut shard = lock(&self.inner.shards[index]);
        if self.has_room_for(&mut shard, weight) {
            self.store(&mut shard, incoming, writer, &mut now, removed);
        } else {
            drop(shard);
            self.store_borrowing(index, incoming, writer, &mut now, removed);
        }
        Ok(())
    }

    /// Stores `incoming` in `shard`, which has the capacity for it.
    fn store(
        &self,
        shard: &mut Shard<K, V, Hasher>,
        incoming: Incoming<K, V>,
        writer: Writer,
        now: &mut LazyNow<'_>,
        removed: &mut Removed<K, V>,
    ) {
        if let Writer::Load { epoch } = writer {
            // Under the shard's lock: an invalidation moves the epoch before it takes the lock,
            // so it is either seen here or removes what this stores; and a live entry here was
            // written while the load ran, so it is newer than the loaded value.
            if self.inner.epoch.load(Ordering::Acquire) != epoch
                || shard.contains(incoming.hash, &incoming.key, now)
            {
                self.return_surplus(shard);
                return;
            }
        }
        shard.insert(incoming, now, removed);
        self.return_surplus(shard);
    }

    /// Stores `incoming`, heavier than shard `index`'s capacity, once capacity is borrowed for
    /// it. Out of line: the common insert neither borrows nor carries the code that does.
    #[cold]
    #[inline(never)]
    fn store_borrowing(
        &self,
        index: usize,
        incoming: Incoming<K, V>,
        writer: Writer,
        now: &mut LazyNow<'_>,
        removed: &mut Removed<K, V>,
    ) {
        let _lending = lock(&self.inner.lending);
        let mut shard = self.borrow_for(index, incoming.weight, now, removed);
        self.store(&mut shard, incoming, writer, now, removed);
    }

    /// Whether an entry of `weight` fits within `shard`'s capacity. A shard that has lent
    /// capacity takes back what the pool has of it first, if it would otherwise evict.
    fn has_room_for(&self, shard: &mut Shard<K, V, Hasher>, weight: u32) -> bool {
        if shard.deficit() > 0 && !shard.fits(weight) {
            shard.grow(self.take_from_pool(shard.deficit()));
        }
        u64::from(weight) <= shard.capacity()
    }

    /// Raises shard `index`'s capacity to `weight`, an entry heavier than it, and returns the
    /// shard locked. The capacity comes from the pool, then from the other shards, which evict
    /// what no longer fits: an even part from each first, so that no one shard is emptied for
    /// it, then what is still missing, shard by shard. As a cache with one policy over all its
    /// entries would, the heavy entry makes room in the whole cache, not in its shard alone.
    /// Called holding `lending`.
    fn borrow_for(
        &self,
        index: usize,
        weight: u32,
        now: &mut LazyNow<'_>,
        removed: &mut Removed<K, V>,
    ) -> MutexGuard<'_, Shard<K, V, Hasher>> {
        let weight = u64::from(weight);
        let shards = &self.inner.shards;
        let mut gathered = 0;
        loop {
            let mut shard = lock(&shards[index]);
            if shard.capacity() + gathered >= weight {
                shard.grow(gathered);
                return shard;
            }
            let wanted = weight - shard.capacity() - gathered;
            // Not held while the others lend: each is locked alone. Meanwhile this shard may
            // give surplus back to the pool, so the next round looks again.
            drop(shard);
            let mut got = self.take_from_pool(wanted);
            let even = (wanted - got).div_ceil((shards.len() as u64 - 1).max(1));
            for part in [even, wanted] {
                for (other, shard) in shards.iter().enumerate() {
                    if other != index && got < wanted {
                        got += lock(shard).lend(part.min(wanted - got), now, removed);
                    }
                }
            }
            gathered += got;
        }
    }

    /// Takes up to `wanted` from the pool; how much it took.
    fn take_from_pool(&self, wanted: u64) -> u64 {
        self.inner
            .pool
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |pool| {
                (pool > 0 && wanted > 0).then(|| pool - pool.min(wanted))
            })
            .map_or(0, |pool| pool.min(wanted))
    }

    /// Puts the capacity `shard` was lent and no longer needs into the pool.
    fn return_surplus(&self, shard: &mut Shard<K, V, Hasher>) {
        let surplus = shard.surplus();
        if surplus > 0 {
            self.inner.pool.fetch_add(surplus, Ordering::AcqRel);
        }
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
            self.return_surplus(&mut shard);
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
            let mut shard = lock(shard);
            shard.remove_if(&mut predicate, &mut self.now(), &mut removed);
            self.return_surplus(&mut shard);
            drop(shard);
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
    ///
    /// Read shard by shard, not as one snapshot: while an entry heavier than its shard's share is
    /// borrowing capacity from the others, a reading taken concurrently may count a shard before
    /// it lent and the borrower after, and so exceed `max_weight`. No shard ever holds more than
    /// its capacity, and the capacities add up to `max_weight`.
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u32),
        Remove(u8),
        InvalidateOdd,
    }

    const MAX_WEIGHT: u32 = 64;

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (any::<u8>(), 1..=MAX_WEIGHT / 8).prop_map(|(key, weight)| Op::Insert(key, weight)),
            2 => (any::<u8>(), 1..=MAX_WEIGHT).prop_map(|(key, weight)| Op::Insert(key, weight)),
            2 => any::<u8>().prop_map(Op::Remove),
            1 => Just(Op::InvalidateOdd),
        ]
    }

    /// The shards' capacities and the pool: together always the cache's capacity.
    fn lent_out(cache: &Cache<u8, u32>) -> (Vec<u64>, u64) {
        let capacities = cache
            .inner
            .shards
            .iter()
            .map(|shard| {
                let shard = lock(shard);
                assert!(shard.weight() <= shard.capacity());
                shard.capacity()
            })
            .collect();
        (capacities, cache.inner.pool.load(Ordering::Acquire))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Entries up to the whole capacity are stored whatever their shard's share, no shard
        /// holds more than its capacity, and capacity is only ever moved, never made.
        #[test]
        fn capacity_moves_between_shards_and_is_never_made(
            ops in prop::collection::vec(op(), 1..200),
        ) {
            let cache: Cache<u8, u32> = Cache::builder()
                .max_weight(u64::from(MAX_WEIGHT))
                .weigher(|_, weight: &u32| *weight)
                .shards(4)
                .build()
                .unwrap();
            for op in ops {
                match op {
                    Op::Insert(key, weight) => {
                        prop_assert!(cache.try_insert(key, weight).is_ok());
                        prop_assert_eq!(cache.get(&key), Some(weight));
                    }
                    Op::Remove(key) => {
                        cache.remove(&key);
                    }
                    Op::InvalidateOdd => cache.invalidate_if(|key, _| key % 2 == 1),
                }
                let (capacities, pool) = lent_out(&cache);
                prop_assert_eq!(capacities.iter().sum::<u64>() + pool, u64::from(MAX_WEIGHT));
                prop_assert!(cache.weight() <= u64::from(MAX_WEIGHT));
            }
            // Light entries in every shard: the shards that lent take their capacity back.
            cache.clear();
            for key in 0..=u8::MAX {
                cache.insert(key, 1);
            }
            prop_assert_eq!(lent_out(&cache), (vec![16; 4], 0));
        }
    }
}
