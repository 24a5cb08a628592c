use std::ops::AddAssign;

/// Why an entry left the cache, as told to the eviction listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemovalCause {
    /// Evicted by the policy to make room.
    Size,
    /// Its time to live or time to idle ran out.
    Expired,
    /// Removed by `remove`, an `invalidate*` method or `clear`.
    Invalidated,
    /// Overwritten by an insert for the same key.
    Replaced,
    /// Never admitted: the weigher gave it more than one entry may weigh.
    Rejected,
}

/// Counters since the cache was built, summed over its shards.
///
/// Each shard counts under the lock its operations already hold, so keeping statistics costs no
/// extra atomic operation on the hot path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Lookups that found a live entry.
    pub hits: u64,
    /// Lookups that found nothing, or an expired entry.
    pub misses: u64,
    /// Entries stored by an insert or a load (replacements included).
    pub inserts: u64,
    /// Entries evicted to make room.
    pub evictions: u64,
    /// Entries removed because they expired.
    pub expirations: u64,
    /// Entries removed by `remove`, `invalidate*` or `clear`.
    pub invalidations: u64,
    /// Entries overwritten by an insert for the same key.
    pub replacements: u64,
    /// Inserts refused because the entry was too heavy.
    pub rejections: u64,
}

impl CacheStats {
    /// Hits over lookups, 0.0 before the first lookup.
    ///
    /// # Examples
    ///
    /// ```
    /// let cache = stanchion_cache::Cache::new(10);
    /// cache.insert("a", 1);
    /// cache.get("a");
    /// cache.get("b");
    /// assert_eq!(cache.stats().hit_ratio(), 0.5);
    /// ```
    pub fn hit_ratio(&self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups == 0 {
            0.0
        } else {
            self.hits as f64 / lookups as f64
        }
    }

    pub(crate) fn count_removal(&mut self, cause: RemovalCause) {
        match cause {
            RemovalCause::Size => self.evictions += 1,
            RemovalCause::Expired => self.expirations += 1,
            RemovalCause::Invalidated => self.invalidations += 1,
            RemovalCause::Replaced => self.replacements += 1,
            RemovalCause::Rejected => self.rejections += 1,
        }
    }
}

impl AddAssign for CacheStats {
    fn add_assign(&mut self, other: Self) {
        self.hits += other.hits;
        self.misses += other.misses;
        self.inserts += other.inserts;
        self.evictions += other.evictions;
        self.expirations += other.expirations;
        self.invalidations += other.invalidations;
        self.replacements += other.replacements;
        self.rejections += other.rejections;
    }
}
