//! The closed-state sliding windows, and the packed totals both breaker states count with.

use crate::sync::{AtomicU64, Mutex, Ordering};
use stanchion_core::CachePadded;

/// One recorded outcome of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) failed: bool,
    pub(crate) slow: bool,
}

impl Outcome {
    /// 1..=4; 0 marks an empty slot.
    fn code(self) -> u8 {
        1 + u8::from(self.failed) + 2 * u8::from(self.slow)
    }

    fn from_code(code: u8) -> Option<Self> {
        (code != 0).then(|| Self {
            failed: (code - 1) & 1 == 1,
            slow: (code - 1) & 2 == 2,
        })
    }
}

/// Calls, failures and slow calls over some set of outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) calls: u32,
    pub(crate) failures: u32,
    pub(crate) slow: u32,
}

impl Totals {
    /// Failure and slow-call rates in percent, once there are at least `minimum` calls.
    pub(crate) fn rates(self, minimum: u32) -> Option<(f32, f32)> {
        (self.calls >= minimum && self.calls > 0).then(|| {
            let percent = |n: u32| n as f32 * 100.0 / self.calls as f32;
            (percent(self.failures), percent(self.slow))
        })
    }

    fn add(&mut self, outcome: Outcome, sign: i32) {
        let step =
            |field: &mut u32, on: bool| *field = field.wrapping_add_signed(sign * i32::from(on));
        step(&mut self.calls, true);
        step(&mut self.failures, outcome.failed);
        step(&mut self.slow, outcome.slow);
    }
}

const SUCCESS_CODE: u8 = 1;

// Totals packed in one word, so one atomic add updates and one load reads all three together:
// calls in bits 42.., failures in 21..42, slow calls in 0..21. A window holds at most 2^20
// outcomes, so every field has room.
const SLOW: u64 = 1;
const FAILURE: u64 = 1 << 21;
const CALL: u64 = 1 << 42;
const FIELD: u64 = (1 << 21) - 1;
const LIMIT: u32 = 1 << 20;

/// Unpacks totals published by a window.
pub(crate) fn unpack(word: u64) -> Totals {
    Totals {
        calls: (word >> 42) as u32,
        failures: ((word >> 21) & FIELD) as u32,
        slow: (word & FIELD) as u32,
    }
}

fn pack(totals: Totals) -> u64 {
    u64::from(totals.calls) * CALL
        + u64::from(totals.failures) * FAILURE
        + u64::from(totals.slow) * SLOW
}

/// The last `n` outcomes.
///
/// A success that meets a full window of successes changes nothing, wherever the ring stands: it
/// reads the published totals and returns, without a lock or a write, so a healthy dependency's
/// callers never contend. Any outcome that changes the window takes a short lock, so the window,
/// and the totals published from it, are always exactly the last `n` outcomes in the order they
/// took the lock.
#[derive(Debug)]
pub(crate) struct CountWindow {
    /// The totals, packed so one load reads all three together.
    totals: CachePadded<AtomicU64>,
    /// The totals of a full window of successes.
    all_successes: u64,
    ring: Mutex<Ring>,
}

#[derive(Debug)]
struct Ring {
    slots: Box<[u8]>,
    position: usize,
    totals: Totals,
}

impl CountWindow {
    pub(crate) fn new(size: u32) -> Self {
        debug_assert!(size > 0 && size <= LIMIT);
        Self {
            totals: CachePadded(AtomicU64::new(0)),
            all_successes: u64::from(size) * CALL,
            ring: Mutex::new(Ring {
                slots: vec![0; size as usize].into_boxed_slice(),
                position: 0,
                totals: Totals::default(),
            }),
        }
    }

    /// Records `outcome`; returns the new totals, or `None` when nothing changed (so no verdict
    /// can change).
    #[inline]
    pub(crate) fn record(&self, outcome: Outcome) -> Option<Totals> {
        let code = outcome.code();
        if code == SUCCESS_CODE && self.totals.0.load(Ordering::Acquire) == self.all_successes {
            return None;
        }
        self.record_locked(code)
    }

    #[inline(never)]
    fn record_locked(&self, code: u8) -> Option<Totals> {
        let mut ring = self
            .ring
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let ring = &mut *ring;
        let position = ring.position;
        ring.position = if position + 1 == ring.slots.len() {
            0
        } else {
            position + 1
        };
        let old = std::mem::replace(&mut ring.slots[position], code);
        if old == code {
            return None;
        }
        if let Some(old) = Outcome::from_code(old) {
            ring.totals.add(old, -1);
        }
        ring.totals
            .add(Outcome::from_code(code).expect("a recorded outcome"), 1);
        self.totals.0.store(pack(ring.totals), Ordering::Release);
        Some(ring.totals)
    }

    pub(crate) fn totals(&self) -> Totals {
        unpack(self.totals.0.load(Ordering::Acquire))
    }

    /// Empties the window. An outcome recorded after the reset by a call admitted before it lands
    /// in the emptied window, as if it had come just after.
    pub(crate) fn reset(&self) {
        let mut ring = self
            .ring
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        ring.slots.fill(0);
        ring.position = 0;
        ring.totals = Totals::default();
        self.totals.0.store(0, Ordering::Release);
    }
}

/// The outcomes of the last `n` whole seconds, in one-second buckets behind a short lock.
#[derive(Debug)]
pub(crate) struct TimeWindow {
    buckets: Mutex<Buckets>,
}

#[derive(Debug)]
struct Buckets {
    /// Per bucket: the second it holds and its totals.
    seconds: Vec<(u64, Totals)>,
    totals: Totals,
    latest: u64,
}

impl Buckets {
    /// Empties the buckets of seconds that fell out of the window by `now`.
    fn advance(&mut self, now: u64) {
        let len = self.seconds.len() as u64;
        if now <= self.latest {
            return;
        }
        let first = self.latest + 1;
        for second in first.max(now.saturating_sub(len - 1))..=now {
            let bucket = &mut self.seconds[(second % len) as usize];
            if bucket.0 != second {
                self.totals.calls -= bucket.1.calls;
                self.totals.failures -= bucket.1.failures;
                self.totals.slow -= bucket.1.slow;
                *bucket = (second, Totals::default());
            }
        }
        self.latest = now;
    }
}

impl TimeWindow {
    pub(crate) fn new(seconds: u64) -> Self {
        Self {
            buckets: Mutex::new(Buckets {
                seconds: vec![(0, Totals::default()); seconds as usize],
                totals: Totals::default(),
                latest: 0,
            }),
        }
    }

    /// Records `outcome` at second `now` of the breaker's time line; returns the new totals.
    pub(crate) fn record(&self, outcome: Outcome, now: u64) -> Option<Totals> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        buckets.advance(now);
        let len = buckets.seconds.len() as u64;
        buckets.seconds[(now % len) as usize].1.add(outcome, 1);
        buckets.totals.add(outcome, 1);
        Some(buckets.totals)
    }

    pub(crate) fn totals(&self, now: u64) -> Totals {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        buckets.advance(now);
        buckets.totals
    }

    pub(crate) fn reset(&self) {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        buckets.seconds.fill((0, Totals::default()));
        buckets.totals = Totals::default();
        buckets.latest = 0;
    }
}

#[cfg(all(test, not(stanchion_loom)))]
mod tests {
    use super::*;

    const OK: Outcome = Outcome {
        failed: false,
        slow: false,
    };
    const FAIL: Outcome = Outcome {
        failed: true,
        slow: false,
    };
    const SLOW_FAIL: Outcome = Outcome {
        failed: true,
        slow: true,
    };

    #[test]
    fn count_window_keeps_the_last_n() {
        let window = CountWindow::new(3);
        assert_eq!(
            window.record(FAIL),
            Some(Totals {
                calls: 1,
                failures: 1,
                slow: 0
            })
        );
        assert_eq!(
            window.record(SLOW_FAIL),
            Some(Totals {
                calls: 2,
                failures: 2,
                slow: 1
            })
        );
        window.record(OK);
        // The fourth outcome replaces the first.
        assert_eq!(
            window.record(OK),
            Some(Totals {
                calls: 3,
                failures: 1,
                slow: 1
            })
        );
        assert_eq!(
            window.record(OK),
            Some(Totals {
                calls: 3,
                failures: 0,
                slow: 0
            })
        );
        assert_eq!(
            window.record(OK),
            None,
            "a success over a success changes nothing"
        );
        window.reset();
        assert_eq!(window.totals(), Totals::default());
    }

    #[test]
    fn a_success_in_a_full_window_of_successes_moves_nothing() {
        let window = CountWindow::new(2);
        window.record(OK);
        window.record(OK);
        let position = window.ring.lock().unwrap().position;
        assert_eq!(window.record(OK), None);
        assert_eq!(
            window.ring.lock().unwrap().position,
            position,
            "the ring did not move"
        );
        // The next failure still leaves after exactly two more outcomes.
        window.record(FAIL);
        assert_eq!(window.record(OK), None, "replaces the other success");
        assert_eq!(window.totals().failures, 1);
        assert_eq!(
            window.record(OK).map(|t| t.failures),
            Some(0),
            "replaces the failure"
        );
    }

    #[test]
    fn time_window_drops_expired_seconds() {
        let window = TimeWindow::new(3);
        window.record(FAIL, 10);
        window.record(OK, 11);
        window.record(OK, 12);
        assert_eq!(
            window.totals(12),
            Totals {
                calls: 3,
                failures: 1,
                slow: 0
            }
        );
        assert_eq!(
            window.totals(13),
            Totals {
                calls: 2,
                failures: 0,
                slow: 0
            }
        );
        assert_eq!(window.totals(100), Totals::default());
        window.record(SLOW_FAIL, 100);
        assert_eq!(
            window.totals(102),
            Totals {
                calls: 1,
                failures: 1,
                slow: 1
            }
        );
    }

    #[test]
    fn rates_wait_for_the_minimum() {
        let totals = Totals {
            calls: 4,
            failures: 2,
            slow: 1,
        };
        assert_eq!(totals.rates(5), None);
        assert_eq!(totals.rates(4), Some((50.0, 25.0)));
    }
}
