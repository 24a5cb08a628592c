//! Synchronization primitives and the per-level FIFO, from loom under `--cfg stanchion_loom` so the
//! models in `tests/loom.rs` explore the queue's own protocol (capacity, close, park and wake).
//! Under loom the level FIFO is a locked `VecDeque` (crossbeam model-checks its own queue), and the
//! wake-up event is a condvar with event-listener's contract: a notification after `listen` wakes
//! the listener. event-listener's blocking wait parks the OS thread, which loom cannot schedule.

#[cfg(stanchion_loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

#[cfg(not(stanchion_loom))]
pub(crate) use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

#[cfg(not(stanchion_loom))]
pub(crate) use crossbeam_queue::SegQueue as Fifo;

#[cfg(not(stanchion_loom))]
pub(crate) use event_listener::{Event, Listener};

#[cfg(stanchion_loom)]
pub(crate) use loom_event::{Event, Listener};

#[cfg(stanchion_loom)]
mod loom_event {
    use loom::sync::{Condvar, Mutex};

    /// Counts notifications; a listener waits for the count to move past what it saw.
    #[derive(Debug, Default)]
    pub(crate) struct Event {
        notifications: Mutex<u64>,
        changed: Condvar,
    }

    #[derive(Debug)]
    pub(crate) struct EventListener<'a> {
        event: &'a Event,
        seen: u64,
    }

    pub(crate) trait Listener {
        fn wait(self);
        fn wait_deadline(self, deadline: std::time::Instant) -> Option<()>;
    }

    impl Event {
        pub(crate) fn new() -> Self {
            Self::default()
        }

        pub(crate) fn listen(&self) -> EventListener<'_> {
            EventListener {
                event: self,
                seen: *self.notifications.lock().unwrap(),
            }
        }

        pub(crate) fn notify(&self, _count: usize) {
            *self.notifications.lock().unwrap() += 1;
            self.changed.notify_all();
        }
    }

    impl Listener for EventListener<'_> {
        fn wait(self) {
            let mut notifications = self.event.notifications.lock().unwrap();
            while *notifications == self.seen {
                notifications = self.event.changed.wait(notifications).unwrap();
            }
        }

        /// loom has no time: a deadline wait is a wait.
        fn wait_deadline(self, _deadline: std::time::Instant) -> Option<()> {
            self.wait();
            Some(())
        }
    }
}

#[cfg(stanchion_loom)]
#[derive(Debug, Default)]
pub(crate) struct Fifo<T>(loom::sync::Mutex<std::collections::VecDeque<T>>);

#[cfg(stanchion_loom)]
impl<T> Fifo<T> {
    pub(crate) fn new() -> Self {
        Self(loom::sync::Mutex::new(std::collections::VecDeque::new()))
    }

    pub(crate) fn push(&self, item: T) {
        self.0.lock().unwrap().push_back(item);
    }

    pub(crate) fn pop(&self) -> Option<T> {
        self.0.lock().unwrap().pop_front()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}
