//! The wake-up event that Stanchion's blocking and async waits park on.
//!
//! Normally this is [event-listener](https://docs.rs/event-listener)'s `Event` and `Listener`,
//! re-exported. Under `--cfg stanchion_loom` it is a small model with the same contract (a
//! notification that happens after `listen` wakes that listener) built on loom's condvar, because
//! event-listener parks OS threads, which loom cannot schedule. Crates use it as
//! `let l = event.listen(); if !ready() { l.wait() }`, and notify after changing the state waited on.

#[cfg(not(stanchion_loom))]
pub use event_listener::{Event, EventListener, Listener};

#[cfg(stanchion_loom)]
pub use model::{Event, EventListener, Listener};

#[cfg(stanchion_loom)]
mod model {
    use loom::sync::{Condvar, Mutex};

    /// Counts notifications; a listener waits for the count to move past what it saw.
    #[derive(Debug, Default)]
    pub struct Event {
        notifications: Mutex<u64>,
        changed: Condvar,
    }

    /// A registration made by [`Event::listen`].
    #[derive(Debug)]
    pub struct EventListener<'a> {
        event: &'a Event,
        seen: u64,
    }

    /// The blocking half of event-listener's `Listener` trait.
    pub trait Listener {
        /// Blocks until notified.
        fn wait(self);
        /// Blocks until notified; loom has no time, so this is [`wait`](Self::wait).
        fn wait_deadline(self, deadline: std::time::Instant) -> Option<()>;
    }

    impl Event {
        /// A new event with no listeners.
        pub fn new() -> Self {
            Self::default()
        }

        /// Registers a listener that any later notification wakes.
        pub fn listen(&self) -> EventListener<'_> {
            EventListener {
                event: self,
                seen: *self.notifications.lock().unwrap(),
            }
        }

        /// Wakes every listener (the model does not count).
        pub fn notify(&self, _count: usize) {
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

        fn wait_deadline(self, _deadline: std::time::Instant) -> Option<()> {
            self.wait();
            Some(())
        }
    }
}

/// Wakes `count` listeners on top of those already notified that have not woken yet: what a
/// producer that just added `count` items must do. `event.notify(n)` alone counts those pending
/// listeners, so two items pushed back to back could wake a single consumer while another sleeps.
/// (The loom model wakes every listener on each notification.)
pub fn notify_additional(event: &Event, count: usize) {
    #[cfg(not(stanchion_loom))]
    event.notify(event_listener::IntoNotification::additional(count));
    #[cfg(stanchion_loom)]
    event.notify(count);
}
