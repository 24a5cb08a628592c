//! One shard of the cache: a hash table over a slab of entries, and the S3-FIFO policy with a
//! frequency-guarded ghost. Everything here runs under the shard's lock, so it is plain
//! single-threaded code.
//!
//! The policy (see docs/cache.md for the measurements behind it):
//! - New entries enter the *small* FIFO (10% of the weight). When it overflows, its oldest entry
//!   moves to the *main* FIFO if it was read while in small, and otherwise leaves, its hash kept in
//!   the *ghost* FIFO (up to twice as many hashes as resident entries).
//! - *main* is a CLOCK: its oldest entry goes back to the tail with one credit spent if it was read
//!   (reads add credit up to 3) and is evicted otherwise.
//! - A new key found in the ghost was evicted too early: it goes straight to main, if the frequency
//!   sketch says it is more popular than the entry main would evict for it.

use std::borrow::Borrow;
use std::collections::VecDeque;

use hashbrown::{HashMap, HashTable};

use crate::sketch::FrequencySketch;
use crate::stats::{CacheStats, RemovalCause};

/// The deadline of an entry that never expires.
pub(crate) const NEVER: u64 = u64::MAX;

/// The share of the weight that the small FIFO gets before it overflows into main.
const SMALL_SHARE_PERCENT: u64 = 10;

/// Ghost hashes kept per resident entry.
const GHOST_PER_ENTRY: usize = 2;

/// The most credit a read can give an entry in main.
const MAX_FREQUENCY: u8 = 3;

/// Reads an entry keeps for the sketch at most: a sketch counter saturates at 15, and halving
/// brings it down from there.
const UNRECORDED_READS_CAP: u16 = 15;

/// Time as nanoseconds since the cache's origin, read from the clock at most once per operation
/// and only when an entry that can expire is touched.
pub(crate) trait Now {
    fn nanos(&mut self) -> u64;
}

/// Where entries leaving a shard go: to the eviction listener after the lock is released, or
/// dropped on the spot when there is no listener.
#[derive(Debug)]
pub(crate) struct Removed<K, V> {
    pub(crate) keep: bool,
    pub(crate) entries: Vec<(K, V, RemovalCause)>,
}

impl<K, V> Removed<K, V> {
    pub(crate) fn new(keep: bool) -> Self {
        Self {
            keep,
            entries: Vec::new(),
        }
    }

    fn push(&mut self, key: K, value: V, cause: RemovalCause) {
        if self.keep {
            self.entries.push((key, value, cause));
        }
    }
}

/// An entry on its way in, weighed and with its deadline.
#[derive(Debug)]
pub(crate) struct Incoming<K, V> {
    pub(crate) hash: u64,
    pub(crate) key: K,
    pub(crate) value: V,
    pub(crate) weight: u32,
    /// Time-to-live deadline, or `NEVER`.
    pub(crate) deadline: u64,
}

#[derive(Debug)]
struct Entry<K, V> {
    key: K,
    value: V,
    hash: u64,
    weight: u32,
    /// CLOCK credit: reads add one, up to `MAX_FREQUENCY`; each pass of the hand spends one.
    frequency: u8,
    in_main: bool,
    /// Reads the sketch has not been told about yet. A read only bumps this (the entry's cache line
    /// is already loaded); the sketch hears of them when the entry's credit is spent or it leaves,
    /// so it is current whenever it is asked about an entry with no credit left. At most
    /// `UNRECORDED_READS_CAP`.
    unrecorded_reads: u16,
    /// Time-to-live deadline, or `NEVER`.
    deadline: u64,
    /// Last read or write, for time to idle.
    touched: u64,
}

#[derive(Debug)]
struct Slot<K, V> {
    /// Bumped whenever the slot is emptied, so a stale FIFO position for it is recognised.
    generation: u32,
    entry: Option<Entry<K, V>>,
}

/// A FIFO position: slot index and the generation it was queued under.
type Position = (u32, u32);

/// How a shard is sized and timed; the same for every shard of a cache.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShardConfig {
    pub(crate) capacity: u64,
    pub(crate) time_to_idle: Option<u64>,
}

#[derive(Debug)]
pub(crate) struct Shard<K, V> {
    table: HashTable<u32>,
    slots: Vec<Slot<K, V>>,
    free: Vec<u32>,
    small: VecDeque<Position>,
    main: VecDeque<Position>,
    small_weight: u64,
    main_weight: u64,
    capacity: u64,
    small_capacity: u64,
    time_to_idle: Option<u64>,
    ghost: Ghost,
    sketch: FrequencySketch,
    pub(crate) stats: CacheStats,
}

impl<K: Eq, V: Clone> Shard<K, V> {
    pub(crate) fn new(config: ShardConfig) -> Self {
        Self {
            table: HashTable::new(),
            slots: Vec::new(),
            free: Vec::new(),
            small: VecDeque::new(),
            main: VecDeque::new(),
            small_weight: 0,
            main_weight: 0,
            capacity: config.capacity,
            small_capacity: (config.capacity * SMALL_SHARE_PERCENT / 100).max(1),
            time_to_idle: config.time_to_idle,
            ghost: Ghost::default(),
            sketch: FrequencySketch::new(config.capacity.min(1 << 24)),
            stats: CacheStats::default(),
        }
    }

    /// Resident entries, expired ones not yet collected included.
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// The summed weight of the resident entries.
    pub(crate) fn weight(&self) -> u64 {
        self.small_weight + self.main_weight
    }

    fn find<Q>(&self, hash: u64, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let slots = &self.slots;
        self.table
            .find(hash, |&index| {
                slots[index as usize]
                    .entry
                    .as_ref()
                    .is_some_and(|entry| entry.key.borrow() == key)
            })
            .copied()
    }

    fn entry(&self, index: u32) -> &Entry<K, V> {
        self.slots[index as usize]
            .entry
            .as_ref()
            .expect("indexed slots hold entries")
    }

    fn entry_mut(&mut self, index: u32) -> &mut Entry<K, V> {
        self.slots[index as usize]
            .entry
            .as_mut()
            .expect("indexed slots hold entries")
    }

    fn can_expire(&self, entry: &Entry<K, V>) -> bool {
        entry.deadline != NEVER || self.time_to_idle.is_some()
    }

    fn is_expired(&self, entry: &Entry<K, V>, now: u64) -> bool {
        now >= entry.deadline
            || self
                .time_to_idle
                .is_some_and(|idle| now >= entry.touched.saturating_add(idle))
    }

    /// A read: the live value, with its access counted; an expired entry is removed instead.
    pub(crate) fn get<Q>(
        &mut self,
        hash: u64,
        key: &Q,
        now: &mut impl Now,
        removed: &mut Removed<K, V>,
    ) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let Some(index) = self.find(hash, key) else {
            self.stats.misses += 1;
            return None;
        };
        let entry = self.entry(index);
        if self.can_expire(entry) {
            let now = now.nanos();
            if self.is_expired(entry, now) {
                self.remove_at(index, RemovalCause::Expired, removed);
                self.stats.misses += 1;
                return None;
            }
            if self.time_to_idle.is_some() {
                self.entry_mut(index).touched = now;
            }
        }
        self.stats.hits += 1;
        // Counters are written only while they still move, so a popular entry's cache line stays
        // clean and can be shared by the cores that read it.
        let entry = self.entry_mut(index);
        if entry.frequency < MAX_FREQUENCY {
            entry.frequency += 1;
        }
        if entry.unrecorded_reads < UNRECORDED_READS_CAP {
            entry.unrecorded_reads += 1;
        }
        Some(entry.value.clone())
    }

    /// The live value, without counting an access.
    pub(crate) fn peek<Q>(&self, hash: u64, key: &Q, now: &mut impl Now) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let entry = self.entry(self.find(hash, key)?);
        let expired = self.can_expire(entry) && self.is_expired(entry, now.nanos());
        (!expired).then(|| entry.value.clone())
    }

    /// Whether a live entry is held, without counting an access.
    pub(crate) fn contains<Q>(&self, hash: u64, key: &Q, now: &mut impl Now) -> bool
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.find(hash, key).is_some_and(|index| {
            let entry = self.entry(index);
            !self.can_expire(entry) || !self.is_expired(entry, now.nanos())
        })
    }

    /// Stores an entry, evicting as the policy says. `weight` must not exceed the capacity.
    pub(crate) fn insert(
        &mut self,
        incoming: Incoming<K, V>,
        now: &mut impl Now,
        removed: &mut Removed<K, V>,
    ) {
        let Incoming {
            hash,
            key,
            value,
            weight,
            deadline,
        } = incoming;
        debug_assert!(u64::from(weight) <= self.capacity);
        self.stats.inserts += 1;
        let touched = if deadline != NEVER || self.time_to_idle.is_some() {
            now.nanos()
        } else {
            0
        };
        if let Some(index) = self.find(hash, &key) {
            let entry = self.entry_mut(index);
            let old_weight = u64::from(std::mem::replace(&mut entry.weight, weight));
            let old_value = std::mem::replace(&mut entry.value, value);
            entry.deadline = deadline;
            entry.touched = touched;
            let in_main = entry.in_main;
            let queue_weight = if in_main {
                &mut self.main_weight
            } else {
                &mut self.small_weight
            };
            *queue_weight = *queue_weight - old_weight + u64::from(weight);
            self.stats.count_removal(RemovalCause::Replaced);
            removed.push(key, old_value, RemovalCause::Replaced);
            self.evict_until_fits(0, now, removed);
            return;
        }

        // A miss is counted when its key is inserted rather than when the read misses: the reads
        // that find nothing stay off the sketch's cache line, and a read-through cache inserts
        // after each miss anyway.
        self.sketch.add(hash, 1);
        let entry = Entry {
            key,
            value,
            hash,
            weight,
            frequency: 0,
            in_main: false,
            unrecorded_reads: 0,
            deadline,
            touched,
        };
        if self.ghost.contains(hash) && self.admit_to_main(hash, weight, now, removed) {
            self.place(entry, true);
            self.evict_until_fits(1, now, removed);
        } else {
            self.evict_until_fits(u64::from(weight), now, removed);
            self.place(entry, false);
        }
    }

    /// Removes the entry for `key`, returning its value.
    pub(crate) fn remove<Q>(&mut self, hash: u64, key: &Q, cause: RemovalCause) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let index = self.find(hash, key)?;
        Some(self.take_at(index, cause))
    }

    /// Removes every entry `predicate` selects, expired entries as `Expired`, the rest as
    /// `Invalidated`.
    pub(crate) fn remove_if(
        &mut self,
        mut predicate: impl FnMut(&K, &V) -> bool,
        now: &mut impl Now,
        removed: &mut Removed<K, V>,
    ) {
        for index in 0..self.slots.len() as u32 {
            let Some(entry) = &self.slots[index as usize].entry else {
                continue;
            };
            if predicate(&entry.key, &entry.value) {
                let cause = if self.can_expire(entry) && self.is_expired(entry, now.nanos()) {
                    RemovalCause::Expired
                } else {
                    RemovalCause::Invalidated
                };
                self.remove_at(index, cause, removed);
            }
        }
    }

    /// The ghost said `hash` left too early. Admit it into main if the sketch ranks it above each
    /// entry main would evict to make room; false if it must start in small instead.
    fn admit_to_main(
        &mut self,
        hash: u64,
        weight: u32,
        now: &mut impl Now,
        removed: &mut Removed<K, V>,
    ) -> bool {
        let candidate = self.sketch.estimate(hash);
        while self.weight() + u64::from(weight) > self.capacity {
            let Some(victim) = self.main_victim() else {
                return true;
            };
            let entry = self.entry(victim);
            if self.can_expire(entry) && self.is_expired(entry, now.nanos()) {
                self.remove_at(victim, RemovalCause::Expired, removed);
            } else if candidate > self.sketch.estimate(entry.hash) {
                self.remove_at(victim, RemovalCause::Size, removed);
            } else {
                return false;
            }
        }
        true
    }

    /// Runs the CLOCK over main until its oldest entry has no credit left, and names it.
    fn main_victim(&mut self) -> Option<u32> {
        loop {
            let &(index, generation) = self.main.front()?;
            match self.live(index, generation) {
                None => {
                    self.main.pop_front();
                }
                Some(entry) if entry.frequency > 0 => {
                    entry.frequency -= 1;
                    self.record_reads(index);
                    self.main.rotate_left(1);
                }
                Some(_) => return Some(index),
            }
        }
    }

    /// The entry at a FIFO position, if the position is not stale.
    fn live(&mut self, index: u32, generation: u32) -> Option<&mut Entry<K, V>> {
        let slot = &mut self.slots[index as usize];
        if slot.generation == generation {
            slot.entry.as_mut()
        } else {
            None
        }
    }

    /// Evicts until `room` more weight fits.
    fn evict_until_fits(&mut self, room: u64, now: &mut impl Now, removed: &mut Removed<K, V>) {
        while self.weight() + room > self.capacity && self.weight() > 0 {
            if self.small_weight >= self.small_capacity || self.main_weight == 0 {
                self.evict_from_small(now, removed);
            } else if let Some(victim) = self.main_victim() {
                let entry = self.entry(victim);
                let cause = if self.can_expire(entry) && self.is_expired(entry, now.nanos()) {
                    RemovalCause::Expired
                } else {
                    RemovalCause::Size
                };
                self.remove_at(victim, cause, removed);
            }
        }
    }

    /// Moves small's oldest entry on: to main if it was read while in small, out otherwise.
    fn evict_from_small(&mut self, now: &mut impl Now, removed: &mut Removed<K, V>) {
        while let Some((index, generation)) = self.small.pop_front() {
            let Some(entry) = self.live(index, generation) else {
                continue;
            };
            let (hash, weight, frequency) = (entry.hash, u64::from(entry.weight), entry.frequency);
            let entry = self.entry(index);
            if self.can_expire(entry) && self.is_expired(entry, now.nanos()) {
                self.remove_at(index, RemovalCause::Expired, removed);
            } else if frequency > 0 {
                self.record_reads(index);
                let entry = self.entry_mut(index);
                entry.frequency = 0;
                entry.in_main = true;
                self.small_weight -= weight;
                self.main_weight += weight;
                self.main.push_back((index, generation));
            } else {
                self.ghost.push(hash, self.table.len() * GHOST_PER_ENTRY);
                self.remove_at(index, RemovalCause::Size, removed);
            }
            return;
        }
    }

    fn place(&mut self, mut entry: Entry<K, V>, in_main: bool) {
        entry.in_main = in_main;
        let (hash, weight) = (entry.hash, u64::from(entry.weight));
        let index = match self.free.pop() {
            Some(index) => {
                self.slots[index as usize].entry = Some(entry);
                index
            }
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    entry: Some(entry),
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slots = &self.slots;
        self.table.insert_unique(hash, index, |&i| {
            slots[i as usize]
                .entry
                .as_ref()
                .map_or(0, |entry| entry.hash)
        });
        let position = (index, self.slots[index as usize].generation);
        if in_main {
            self.main_weight += weight;
            self.main.push_back(position);
        } else {
            self.small_weight += weight;
            self.small.push_back(position);
        }
        self.compact_fifos();
    }

    fn remove_at(&mut self, index: u32, cause: RemovalCause, removed: &mut Removed<K, V>) {
        let (key, value) = self.take_at(index, cause);
        removed.push(key, value, cause);
    }

    fn take_at(&mut self, index: u32, cause: RemovalCause) -> (K, V) {
        self.record_reads(index);
        let slot = &mut self.slots[index as usize];
        let entry = slot.entry.take().expect("indexed slots hold entries");
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
        self.table
            .find_entry(entry.hash, |&i| i == index)
            .expect("every entry is indexed")
            .remove();
        let queue_weight = if entry.in_main {
            &mut self.main_weight
        } else {
            &mut self.small_weight
        };
        *queue_weight -= u64::from(entry.weight);
        self.stats.count_removal(cause);
        (entry.key, entry.value)
    }

    /// Tells the sketch about the reads of the entry at `index` it has not heard of.
    fn record_reads(&mut self, index: u32) {
        let entry = self.entry_mut(index);
        let (hash, reads) = (entry.hash, std::mem::take(&mut entry.unrecorded_reads));
        if reads > 0 {
            self.sketch.add(hash, reads);
        }
    }

    /// Drops stale positions once they outnumber live ones, so removals without evictions cannot
    /// grow the FIFOs without bound.
    fn compact_fifos(&mut self) {
        let live = self.table.len();
        if self.small.len() + self.main.len() > 2 * live + 64 {
            let slots = &self.slots;
            let is_live = |&(index, generation): &Position| {
                let slot = &slots[index as usize];
                slot.generation == generation && slot.entry.is_some()
            };
            self.small.retain(is_live);
            self.main.retain(is_live);
        }
    }
}

/// Hashes of keys recently evicted from small, oldest first, with a count per hash so that a
/// hash pushed twice stays until its last push ages out.
#[derive(Debug, Default)]
struct Ghost {
    order: VecDeque<u64>,
    counts: HashMap<u64, u32>,
}

impl Ghost {
    fn contains(&self, hash: u64) -> bool {
        self.counts.contains_key(&hash)
    }

    fn push(&mut self, hash: u64, limit: usize) {
        self.order.push_back(hash);
        *self.counts.entry(hash).or_insert(0) += 1;
        while self.order.len() > limit.max(1) {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(count) = self.counts.get_mut(&old) {
                *count -= 1;
                if *count == 0 {
                    self.counts.remove(&old);
                }
            }
        }
    }
}
