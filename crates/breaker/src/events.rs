use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::State;
use crate::sync::{AtomicBool, Ordering, RwLock};

/// Something that happened in a breaker, delivered to the callbacks given to
/// [`CircuitBreaker::on_event`](crate::CircuitBreaker::on_event).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum BreakerEvent {
    /// A permitted call succeeded; `duration` when calls are timed.
    Success {
        /// How long the call took.
        duration: Option<Duration>,
    },
    /// A permitted call failed.
    Failure {
        /// How long the call took.
        duration: Option<Duration>,
    },
    /// A permitted call ended in an error the classifier ignores; it counts for nothing.
    Ignored,
    /// A call was refused.
    NotPermitted {
        /// The state that refused it.
        state: State,
    },
    /// The breaker changed state.
    StateTransition {
        /// The state it left.
        from: State,
        /// The state it entered.
        to: State,
    },
    /// [`reset`](crate::CircuitBreaker::reset) emptied the breaker's windows and closed it.
    Reset,
    /// The failure rate reached the threshold.
    FailureRateExceeded {
        /// The rate, in percent.
        rate: f32,
    },
    /// The slow-call rate reached the threshold.
    SlowCallRateExceeded {
        /// The rate, in percent.
        rate: f32,
    },
    /// The consecutive-failures rule fired.
    ConsecutiveFailuresExceeded {
        /// The length of the streak.
        count: u32,
    },
    /// The consecutive-slow-calls rule fired.
    ConsecutiveSlowCallsExceeded {
        /// The length of the streak.
        count: u32,
    },
}

pub(crate) type Listener = Arc<dyn Fn(&BreakerEvent) + Send + Sync>;

/// The callbacks, behind a flag that makes emitting free while there are none.
pub(crate) struct Listeners {
    any: AtomicBool,
    list: RwLock<Arc<[Listener]>>,
}

impl Listeners {
    pub(crate) fn new() -> Self {
        Self {
            any: AtomicBool::new(false),
            list: RwLock::new(Arc::new([])),
        }
    }

    pub(crate) fn add(&self, listener: Listener) {
        let mut list = self
            .list
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *list = list.iter().cloned().chain([listener]).collect();
        self.any.store(true, Ordering::Release);
    }

    pub(crate) fn clear(&self) {
        let mut list = self
            .list
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *list = Arc::new([]);
        self.any.store(false, Ordering::Release);
    }

    /// Calls every listener with the event `make` builds; builds nothing when nobody listens.
    /// Listeners run outside the lock, so one may subscribe another.
    #[inline]
    pub(crate) fn emit(&self, make: impl FnOnce() -> BreakerEvent) {
        if !self.any.load(Ordering::Relaxed) {
            return;
        }
        let list = self
            .list
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let event = make();
        for listener in list.iter() {
            listener(&event);
        }
    }
}

impl fmt::Debug for Listeners {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.list.read().map_or(0, |list| list.len());
        f.debug_struct("Listeners").field("count", &count).finish()
    }
}
