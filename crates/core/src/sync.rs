//! The locking and spinning the Stanchion crates share, from loom under `--cfg stanchion_loom` so
//! each crate's loom models see them, and from std and crossbeam otherwise.

#[cfg(stanchion_loom)]
pub use loom::sync::{Mutex, MutexGuard};
#[cfg(not(stanchion_loom))]
pub use std::sync::{Mutex, MutexGuard};

/// Locks, ignoring poison. The crates keep what they lock consistent between statements, so a
/// panic elsewhere never leaves it half-updated.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// Waits for another thread to finish a short step: crossbeam's `Backoff` (spin, then yield the
/// thread); under loom, a yield to the model.
#[derive(Debug, Default)]
pub struct Backoff(#[cfg(not(stanchion_loom))] crossbeam_utils::Backoff);

impl Backoff {
    /// A fresh backoff.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits a little longer each call.
    pub fn snooze(&self) {
        #[cfg(not(stanchion_loom))]
        self.0.snooze();
        #[cfg(stanchion_loom)]
        loom::thread::yield_now();
    }

    /// Whether waiting longer is better done by parking the thread. Always under loom, where
    /// spinning only adds steps to the model.
    pub fn is_completed(&self) -> bool {
        #[cfg(not(stanchion_loom))]
        return self.0.is_completed();
        #[cfg(stanchion_loom)]
        true
    }
}

/// For loom models: counts the executions of a model that took a path, across all of loom's
/// executions (a std atomic, outside the model). A model whose racing thread always ran before
/// or after the code under test passes without checking the handoff it was written for, and
/// loom does not always reach such an interleaving; a model marks the executions that did and
/// asserts, after `loom::model` returns, that there was at least one.
#[cfg(stanchion_loom)]
#[derive(Debug, Default)]
pub struct Reached(std::sync::atomic::AtomicUsize);

#[cfg(stanchion_loom)]
impl Reached {
    /// Nothing reached yet; meant for a `static` in the model's test.
    pub const fn new() -> Self {
        Self(std::sync::atomic::AtomicUsize::new(0))
    }

    /// Counts this execution if it `reached` the path.
    pub fn mark(&self, reached: bool) {
        if reached {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Panics, naming `what`, unless some execution reached the path.
    #[track_caller]
    pub fn assert(&self, what: &str) {
        let count = self.0.load(std::sync::atomic::Ordering::Relaxed);
        assert!(count > 0, "no execution {what}");
    }
}

#[cfg(stanchion_loom)]
use loom::sync::atomic::{AtomicU64, Ordering, fence};
#[cfg(not(stanchion_loom))]
use std::sync::atomic::{AtomicU64, Ordering, fence};

/// Two numbers written together by one writer at a time and read without a lock: a sequence
/// lock. A reader gets a pair that was written together, or `None` while a write is under way, if
/// one landed while it read, or before the first write.
///
/// ```
/// use stanchion_core::sync::SeqPair;
///
/// let pair = SeqPair::new();
/// assert_eq!(pair.read(), None);
/// assert!(pair.write_if(pair.version(), 7, 8));
/// assert_eq!(pair.read(), Some((7, 8)));
/// // A writer that saw an older version does not write.
/// assert!(!pair.write_if(0, 1, 2));
/// ```
#[derive(Debug)]
pub struct SeqPair {
    /// Odd while a write is under way; zero before the first.
    version: AtomicU64,
    first: AtomicU64,
    second: AtomicU64,
}

impl SeqPair {
    /// A pair never written.
    #[cfg(not(stanchion_loom))]
    pub const fn new() -> Self {
        Self {
            version: AtomicU64::new(0),
            first: AtomicU64::new(0),
            second: AtomicU64::new(0),
        }
    }

    /// A pair never written.
    #[cfg(stanchion_loom)]
    pub fn new() -> Self {
        Self {
            version: AtomicU64::new(0),
            first: AtomicU64::new(0),
            second: AtomicU64::new(0),
        }
    }

    /// The version to pass to [`write_if`](Self::write_if).
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The pair last written, if no write is under way or landed meanwhile.
    pub fn read(&self) -> Option<(u64, u64)> {
        let version = self.version.load(Ordering::Acquire);
        let pair = (
            self.first.load(Ordering::Relaxed),
            self.second.load(Ordering::Relaxed),
        );
        // Orders the two loads above before the version is read again.
        fence(Ordering::Acquire);
        let settled = version != 0
            && version.is_multiple_of(2)
            && version == self.version.load(Ordering::Relaxed);
        settled.then_some(pair)
    }

    /// Writes the pair if the version is still `seen` and no write is under way; says whether it
    /// wrote. One of several writers racing from the same version wins.
    pub fn write_if(&self, seen: u64, first: u64, second: u64) -> bool {
        if !seen.is_multiple_of(2)
            || self
                .version
                .compare_exchange(seen, seen + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        // Keeps the stores below from becoming visible before the odd version: a reader that sees
        // either of them then sees the version move.
        fence(Ordering::Release);
        self.first.store(first, Ordering::Relaxed);
        self.second.store(second, Ordering::Relaxed);
        self.version.store(seen + 2, Ordering::Release);
        true
    }
}

impl Default for SeqPair {
    fn default() -> Self {
        Self::new()
    }
}
