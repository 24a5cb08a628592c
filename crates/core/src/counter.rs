use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// How many stripes a counter spreads over; a power of two.
const STRIPES: usize = 8;

/// A value on a cache line of its own (128 bytes covers adjacent-line prefetching), so that
/// writers of neighbouring values do not slow each other down.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct CachePadded<T>(pub T);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// A statistics counter many threads can bump without contending on one cache line.
///
/// Each thread adds to one of a few padded stripes; [`get`](Self::get) sums them. Increments are
/// `Relaxed`: a read is the exact total of every increment that happened before it, and only
/// approximately ordered with other memory operations, as statistics need.
///
/// # Examples
///
/// ```
/// use stanchion_core::Counter;
///
/// let hits = Counter::new();
/// std::thread::scope(|s| {
///     for _ in 0..4 {
///         s.spawn(|| (0..1000).for_each(|_| hits.increment()));
///     }
/// });
/// assert_eq!(hits.get(), 4000);
/// ```
#[derive(Default)]
pub struct Counter {
    stripes: [CachePadded<AtomicU64>; STRIPES],
}

impl Counter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one.
    #[inline]
    pub fn increment(&self) {
        self.add(1);
    }

    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        self.stripes[stripe()].0.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds one to the calling thread's stripe and returns what that stripe held before: a
    /// sequence of the thread's own (shared only with the threads on its stripe), for taking
    /// turns without a counter that every thread writes.
    #[inline]
    pub fn next_on_stripe(&self) -> u64 {
        self.stripes[stripe()].0.fetch_add(1, Ordering::Relaxed)
    }

    /// The sum of every increment so far.
    pub fn get(&self) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }

    /// Sets the counter back to zero. Increments racing with the reset may survive it.
    pub fn reset(&self) {
        for stripe in &self.stripes {
            stripe.0.store(0, Ordering::Relaxed);
        }
    }
}

impl fmt::Debug for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Counter").field(&self.get()).finish()
    }
}

/// This thread's stripe: threads take stripes round-robin as they first count.
#[inline]
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|stripe| {
        let mut index = stripe.get();
        if index == usize::MAX {
            index = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
            stripe.set(index);
        }
        index
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_takes_consecutive_numbers_from_its_stripe() {
        let counter = Counter::new();
        let taken: Vec<u64> = (0..5).map(|_| counter.next_on_stripe()).collect();
        assert_eq!(taken, [0, 1, 2, 3, 4]);
        assert_eq!(counter.get(), 5);
    }

    #[test]
    fn counts_across_threads_and_resets() {
        let counter = Counter::new();
        std::thread::scope(|s| {
            for t in 0..(STRIPES + 3) {
                let counter = &counter;
                s.spawn(move || (0..1000).for_each(|_| counter.add(t as u64)));
            }
        });
        let expected: u64 = (0..(STRIPES + 3) as u64).map(|t| t * 1000).sum();
        assert_eq!(counter.get(), expected);
        counter.reset();
        assert_eq!(counter.get(), 0);
    }

    #[test]
    fn padding_separates_stripes() {
        assert_eq!(std::mem::align_of::<CachePadded<AtomicU64>>(), 128);
        assert_eq!(std::mem::size_of::<Counter>(), 128 * STRIPES);
    }
}
