//! The ghost: hashes of keys recently evicted from small, so that a key coming back soon is known
//! to have left too early.
//!
//! It answers as a FIFO of the last `limit` hashes pushed would: a hash is in it while one of the
//! last `limit` pushes was of it. It keeps no queue and no hash map, though. Each hash takes one
//! 64-bit slot in a bucket of eight that fills one cache line: the hash's top 24 bits as a
//! fingerprint, and the number of the push that wrote it. A slot is live while fewer than `limit`
//! pushes have come since; older slots are stale, and a push reuses them. So a lookup or a push
//! touches one cache line. The FIFO of hashes beside a hash map of them that it replaced touched
//! two for a lookup and four or more for a push (the new hash in, the oldest out).
//!
//! Where it differs from the FIFO, both times rarely:
//! - A push into a bucket whose eight slots are all live drops the bucket's oldest hash before its
//!   time. The table has four slots per hash the ghost holds (fewer only past 2^25 hashes a
//!   shard), so at most two are live in a bucket on average, and a push finds its bucket full
//!   about once in 900 pushes at worst (once in 5,000 for a shard of 12,500 entries, whose table
//!   rounds up to 1.5 live a bucket). Right after the table doubles, the copies of its live slots
//!   (see `grow_for`) make that more frequent until they go stale.
//! - The limit is applied when a lookup asks, not when a push trims the queue: if the limit
//!   shrinks and grows again, hashes the FIFO would have dropped come back.
//! - Two hashes with the same fingerprint in one bucket are taken for one: with two live slots in
//!   the bucket, a lookup finds another hash's slot about once in 8 million lookups.
//!
//! Either changes only where one new entry starts, in small or in main (see `Shard::insert`),
//! never what a read returns.

use crate::sketch::repeated;

/// Slots per hash the ghost may hold: with fewer, a bucket fills more often (see the module docs).
const SLOTS_PER_HASH: u64 = 4;

/// The low bits of a slot: the push that wrote it, counted modulo 2^40.
const PUSH_BITS: u32 = 40;
const PUSH_MASK: u64 = (1 << PUSH_BITS) - 1;

/// Buckets a ghost made for few entries starts with.
const MIN_BUCKETS: usize = 8;

/// How many pushes ago `slot` was written, `pushes` pushes in.
fn age(pushes: u64, slot: u64) -> u64 {
    pushes.wrapping_sub(slot) & PUSH_MASK
}

/// Whether `slot` holds `fingerprint` and is still live, `pushes` pushes in.
fn holds(slot: u64, fingerprint: u64, pushes: u64, limit: u64) -> bool {
    slot >> PUSH_BITS == fingerprint && age(pushes, slot) < limit
}

/// Eight slots: one cache line.
#[derive(Debug, Clone, Copy, Default)]
#[repr(align(64))]
struct Bucket([u64; 8]);

#[derive(Debug)]
pub(crate) struct Ghost {
    buckets: Box<[Bucket]>,
    /// Pushes so far, modulo 2^40. Starts half way round, so that the zeroed slots of a new table
    /// read as pushed 2^39 pushes ago: stale until 2^39 more pushes wrap the count, after which a
    /// slot never written reads as live for `limit` pushes in every 2^40, and only for the hashes
    /// whose top 24 bits are zero.
    pushes: u64,
    /// The most hashes it is sized for.
    max_hashes: u64,
}

impl Ghost {
    /// An empty ghost, sized at its first push for the limit it is pushed with and grown with the
    /// limit, up to room for `max_hashes`: a cache that never evicts pays for nothing.
    pub(crate) fn new(max_hashes: u64) -> Self {
        Self {
            buckets: vec![Bucket::default(); MIN_BUCKETS].into_boxed_slice(),
            pushes: 1 << (PUSH_BITS - 1),
            max_hashes,
        }
    }

    /// Grows the table, if need be, to hold `hashes` hashes (at most the maximum it was made
    /// with). Each old bucket goes to both buckets that one more bit of the hash splits it into, so
    /// every lookup answers as before; the copy in the bucket its hashes no longer map to is
    /// stale in `limit` pushes like any slot. Until then the copies fill buckets: growing step by
    /// step while the first `limit` pushes come in, before any slot went stale, filled 85% of
    /// the pushes' buckets in a review's simulation, so the table is sized for the whole limit at
    /// once, and grows again only when the limit does (a weighted shard holding more entries).
    fn grow_for(&mut self, hashes: u64) {
        let slots = hashes.min(self.max_hashes) * SLOTS_PER_HASH;
        if slots > 8 * self.buckets.len() as u64 {
            let buckets = slots.div_ceil(8).next_power_of_two() as usize;
            self.buckets = repeated(&self.buckets, buckets);
        }
    }

    fn bucket_index(&self, hash: u64) -> usize {
        hash as usize & (self.buckets.len() - 1)
    }

    fn fingerprint(hash: u64) -> u64 {
        hash >> PUSH_BITS
    }

    /// Whether `hash` was among the last `limit` hashes pushed.
    pub(crate) fn contains(&self, hash: u64, limit: u64) -> bool {
        let fingerprint = Self::fingerprint(hash);
        self.buckets[self.bucket_index(hash)]
            .0
            .iter()
            .any(|&slot| holds(slot, fingerprint, self.pushes, limit))
    }

    /// Remembers `hash`, as the newest of the last `limit` pushes.
    pub(crate) fn push(&mut self, hash: u64, limit: u64) {
        self.grow_for(limit);
        self.pushes = (self.pushes + 1) & PUSH_MASK;
        let fingerprint = Self::fingerprint(hash);
        let written = fingerprint << PUSH_BITS | self.pushes;
        let index = self.bucket_index(hash);
        let pushes = self.pushes;
        let bucket = &mut self.buckets[index].0;
        // The hash's own live slot if it has one, else the oldest: a stale one if any is.
        let chosen = (0..bucket.len())
            .find(|&i| holds(bucket[i], fingerprint, pushes, limit))
            .or_else(|| (0..bucket.len()).max_by_key(|&i| age(pushes, bucket[i])))
            .expect("a bucket has slots");
        bucket[chosen] = written;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use proptest::prelude::*;

    use super::*;

    /// A hash in bucket `bucket` (of a table of at least that many buckets) with fingerprint `n`.
    fn in_bucket(bucket: u64, n: u64) -> u64 {
        n << PUSH_BITS | bucket
    }

    /// Distinct hashes for distinct `n`, spread over the buckets and fingerprints.
    fn spread(n: u64) -> u64 {
        n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(u64),
        Contains(u64),
        Grow(u64),
    }

    fn op(hash: impl Strategy<Value = u64> + Clone) -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => hash.clone().prop_map(Op::Push),
            3 => hash.prop_map(Op::Contains),
            1 => (0..4_096u64).prop_map(Op::Grow),
        ]
    }

    /// Runs `ops`, each with its limit, and checks every lookup against a FIFO of the pushes.
    fn check_against_fifo(mut ghost: Ghost, ops: Vec<(Op, u64)>) -> Result<(), TestCaseError> {
        let mut pushed: VecDeque<u64> = VecDeque::new();
        for (op, limit) in ops {
            match op {
                Op::Push(hash) => {
                    ghost.push(hash, limit);
                    pushed.push_front(hash);
                }
                Op::Contains(hash) => {
                    let expected = pushed.iter().take(limit as usize).any(|&h| h == hash);
                    prop_assert_eq!(ghost.contains(hash, limit), expected, "{:x}", hash);
                }
                Op::Grow(hashes) => ghost.grow_for(hashes),
            }
        }
        Ok(())
    }

    proptest! {
        /// It answers as a FIFO of the last `limit` pushes, whatever the limit of each call and
        /// however it grows in between, as long as no bucket overflows: the forty hashes (few,
        /// so that most lookups and pushes meet a hash pushed before) fall in forty different
        /// buckets of the 128 it starts with.
        #[test]
        fn answers_as_a_fifo_of_the_last_pushes(
            ops in proptest::collection::vec((op((0..40u64).prop_map(spread)), 1..24u64), 1..400),
        ) {
            let mut ghost = Ghost::new(4_096);
            ghost.grow_for(256);
            check_against_fifo(ghost, ops)?;
        }

        /// The same with fifteen hashes crowded into three buckets, so that pushes meet other
        /// hashes' live and stale slots and must pick the right one to replace; with a limit of
        /// at most eight, no bucket can hold more live hashes than it has slots.
        #[test]
        fn answers_as_a_fifo_with_hashes_sharing_buckets(
            ops in proptest::collection::vec(
                (op((0..3u64, 1..6u64).prop_map(|(bucket, n)| in_bucket(bucket, n))), 1..=8u64),
                1..400,
            ),
        ) {
            check_against_fifo(Ghost::new(64), ops)?;
        }
    }

    #[test]
    fn a_full_bucket_drops_its_oldest_hash() {
        let mut ghost = Ghost::new(64);
        ghost.grow_for(64);
        let hashes: Vec<u64> = (1..=9).map(|n| in_bucket(3, n)).collect();
        for &hash in &hashes {
            ghost.push(hash, 1_000);
        }
        assert!(!ghost.contains(hashes[0], 1_000), "the oldest gave way");
        assert!(hashes[1..].iter().all(|&hash| ghost.contains(hash, 1_000)));
    }

    #[test]
    fn a_hash_pushed_again_takes_no_second_slot() {
        let mut ghost = Ghost::new(64);
        ghost.grow_for(64);
        let first = in_bucket(5, 1);
        ghost.push(first, 1_000);
        for n in 2..=8 {
            ghost.push(first, 1_000);
            ghost.push(in_bucket(5, n), 1_000);
        }
        // Eight distinct hashes fill the bucket's eight slots: had each push of `first` taken a
        // slot of its own, the bucket would have overflowed and dropped the oldest of them.
        assert!((1..=8).all(|n| ghost.contains(in_bucket(5, n), 1_000)));
    }

    #[test]
    fn the_push_count_wraps_without_losing_the_window() {
        let mut ghost = Ghost::new(64);
        ghost.grow_for(64);
        ghost.pushes = PUSH_MASK - 2;
        let hashes: Vec<u64> = (1..=6).map(|n| in_bucket(n, n)).collect();
        for &hash in &hashes {
            ghost.push(hash, 4);
        }
        assert!(ghost.pushes < 4, "the count wrapped");
        assert!(!ghost.contains(hashes[1], 4));
        assert!(hashes[2..].iter().all(|&hash| ghost.contains(hash, 4)));
    }

    #[test]
    fn a_new_table_holds_nothing() {
        let mut ghost = Ghost::new(1_000);
        ghost.grow_for(1_000);
        assert!(!ghost.contains(0, u64::from(u32::MAX)));
        assert!(!ghost.contains(in_bucket(7, 1), u64::from(u32::MAX)));
    }

    #[test]
    fn is_sized_for_its_limit_up_to_its_maximum() {
        let mut ghost = Ghost::new(1_000);
        assert_eq!(ghost.buckets.len(), MIN_BUCKETS);
        // (limit, buckets after a push with it)
        let steps = [
            (10, MIN_BUCKETS), // forty slots fit in the first eight buckets
            (100, 64),         // four slots a hash, eight a bucket
            (10, 64),          // never shrinks
            (10_000, 512),     // no further than 1,000 hashes need
        ];
        for (limit, buckets) in steps {
            ghost.push(spread(limit), limit);
            assert_eq!(ghost.buckets.len(), buckets, "limit {limit}");
        }
    }
}
