//! A count-min sketch of recent access frequency (TinyLFU's), four 4-bit counters per key that all
//! live in one 64-byte block, so an increment or estimate touches one cache line.

/// Counters are halved after this many increments per sized entry, so old popularity fades.
/// Caffeine halves after 10; on the ARC traces a longer memory ranks ghost hits better (see the
/// hit-ratio section of docs/cache.md).
const SAMPLE_FACTOR: u64 = 40;

/// Table words per sized entry: 32 counters, so at four counters a key, collisions between the
/// keys of a sample stay rare (one word per entry lost 0.1 to 0.3 points of hit ratio on the ARC traces).
const WORDS_PER_ENTRY: u64 = 2;

/// Entries a [`FrequencySketch::growing`] sketch is sized for at first.
const INITIAL_ENTRIES: u64 = 64;

/// `table` repeated to `len` items (a power-of-two multiple of its length): a table indexed by a
/// hash's low bits, grown so, answers every hash from the same items as before, which the one
/// more bit of the hash now picks between. The sketch and the ghost grow this way.
pub(crate) fn repeated<T: Clone>(table: &[T], len: usize) -> Box<[T]> {
    let mut grown = Vec::with_capacity(len);
    while grown.len() < len {
        grown.extend_from_slice(table);
    }
    grown.into_boxed_slice()
}

#[derive(Debug)]
pub(crate) struct FrequencySketch {
    /// Blocks of 8 words; each word holds sixteen 4-bit counters.
    table: Box<[u64]>,
    block_mask: u64,
    additions: u64,
    sample_size: u64,
    /// The entries the table is sized for now, and the most it grows to.
    entries: u64,
    max_entries: u64,
}

impl FrequencySketch {
    /// A sketch sized for `entries` resident keys.
    pub(crate) fn new(entries: u64) -> Self {
        Self::sized(entries, entries)
    }

    /// A sketch sized for a few entries, which [`grow_for`](Self::grow_for) grows as they come,
    /// up to `max_entries`: for a cache bounded by weight, whose bound says little of how many
    /// entries it will hold, so that it pays for the entries it holds rather than for one per
    /// unit of weight.
    pub(crate) fn growing(max_entries: u64) -> Self {
        Self::sized(INITIAL_ENTRIES.min(max_entries), max_entries)
    }

    fn sized(entries: u64, max_entries: u64) -> Self {
        let mut sketch = Self {
            table: vec![0; 8].into_boxed_slice(),
            block_mask: 0,
            additions: 0,
            sample_size: 0,
            entries: 0,
            max_entries,
        };
        sketch.grow_for(entries);
        sketch
    }

    /// Grows the table, if need be, to size it for `entries` resident keys (at most the
    /// `max_entries` it was made with). Each block of the old table goes to both blocks that one
    /// more bit of the hash splits it into, so every key's estimate stays what it was.
    pub(crate) fn grow_for(&mut self, entries: u64) {
        let entries = entries.min(self.max_entries);
        if entries <= self.entries {
            return;
        }
        let words = (entries * WORDS_PER_ENTRY)
            .clamp(8, 1 << 27)
            .next_power_of_two() as usize;
        if words > self.table.len() {
            self.table = if self.additions == 0 {
                // Nothing counted yet: zeroed memory, which the allocator maps as it is touched.
                vec![0; words].into_boxed_slice()
            } else {
                repeated(&self.table, words)
            };
            self.block_mask = (words / 8 - 1) as u64;
        }
        // The halving period follows the entries, not the table, so a full sketch halves as
        // often as one made at its final size.
        self.entries = entries;
        self.sample_size = SAMPLE_FACTOR * entries.max(8);
    }

    /// The word and the bit offset of the `row`-th counter of `hash`.
    #[inline]
    fn slot(&self, hash: u64, row: u64) -> (usize, u32) {
        let spread = hash.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(31);
        let block = (spread & self.block_mask) * 8;
        let lane = spread >> (40 + row * 6);
        let word = block + row * 2 + (lane & 1);
        let nibble = ((lane >> 1) & 15) as u32;
        (word as usize, nibble * 4)
    }

    /// How often `hash` was seen lately, saturating at 15.
    pub(crate) fn estimate(&self, hash: u64) -> u8 {
        (0..4)
            .map(|row| {
                let (word, shift) = self.slot(hash, row);
                ((self.table[word] >> shift) & 15) as u8
            })
            .min()
            .unwrap_or(0)
    }

    /// Counts `accesses` accesses to `hash`. Conservative update: each of its counters rises to
    /// the smallest one plus `accesses` (at most 15), so keys sharing a counter inflate it less.
    pub(crate) fn add(&mut self, hash: u64, accesses: u16) {
        let target = (u64::from(self.estimate(hash)) + u64::from(accesses)).min(15);
        for row in 0..4 {
            let (word, shift) = self.slot(hash, row);
            let counter = (self.table[word] >> shift) & 15;
            if counter < target {
                self.table[word] += (target - counter) << shift;
            }
        }
        self.additions += u64::from(accesses);
        if self.additions >= self.sample_size {
            self.halve();
        }
    }

    /// The table's length in words.
    #[cfg(test)]
    pub(crate) fn words(&self) -> usize {
        self.table.len()
    }

    fn halve(&mut self) {
        self.additions /= 2;
        for word in self.table.iter_mut() {
            *word = (*word >> 1) & 0x7777_7777_7777_7777;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_saturate_and_fade() {
        let mut sketch = FrequencySketch::new(64);
        for _ in 0..20 {
            sketch.add(42, 1);
        }
        sketch.add(7, 3);
        assert_eq!(sketch.estimate(7), 3);
        assert_eq!(sketch.estimate(42), 15);
        sketch.halve();
        assert_eq!(sketch.estimate(42), 7);
        assert_eq!(sketch.estimate(7), 1);
    }

    #[test]
    fn frequent_keys_outrank_rare_ones() {
        let mut sketch = FrequencySketch::new(1024);
        for round in 0..5u64 {
            for key in 0..512u64 {
                sketch.add(key.wrapping_mul(0x2545_F491_4F6C_DD1D), 1);
                if round == 0 {
                    sketch.add(1_000_000 + key, 1);
                }
            }
        }
        let hot =
            (0..512u64).filter(|k| sketch.estimate(k.wrapping_mul(0x2545_F491_4F6C_DD1D)) >= 4);
        assert!(hot.count() > 500);
        let cold = (0..512u64).filter(|k| sketch.estimate(1_000_000 + k) >= 4);
        assert!(cold.count() < 20);
    }

    #[test]
    fn grows_with_its_entries_and_keeps_every_estimate() {
        let hashes: Vec<u64> = (0..2_000u64)
            .map(|k| k.wrapping_mul(0x2545_F491_4F6C_DD1D))
            .collect();
        let mut sketch = FrequencySketch::growing(1 << 24);
        assert_eq!(
            sketch.table.len(),
            128,
            "sized for its first entries, not its maximum"
        );
        for (i, &hash) in hashes.iter().enumerate() {
            sketch.add(hash, 1 + (i % 5) as u16);
        }
        let before: Vec<u8> = hashes.iter().map(|&h| sketch.estimate(h)).collect();
        sketch.grow_for(1_000);
        assert_eq!(sketch.table.len(), 2_048);
        let after: Vec<u8> = hashes.iter().map(|&h| sketch.estimate(h)).collect();
        assert_eq!(before, after);
        // Never past the maximum it was made with.
        let mut small = FrequencySketch::growing(100);
        small.grow_for(1 << 20);
        assert_eq!(small.table.len(), 256);
        assert_eq!(small.sample_size, SAMPLE_FACTOR * 100);
    }
}
