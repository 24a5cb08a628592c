use crate::error::ConfigError;

/// What a topic does with a new event when its slowest subscriber already holds `capacity`
/// unread events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Overflow {
    /// The publisher waits for the slowest subscriber (blocking or async, as the caller chose);
    /// `try_publish` hands the event back as [`PublishError::Full`](crate::PublishError::Full).
    /// Nothing is lost.
    Block,
    /// The event is published and a subscriber that would hold more than `capacity` unread events
    /// loses its oldest; its next receive reports [`RecvError::Lagged`](crate::RecvError::Lagged)
    /// with the exact number lost, then continues. Publishers never wait.
    DropOldest,
    /// The new event is dropped for every subscriber and counted in
    /// [`TopicStats::dropped`](crate::TopicStats::dropped); `try_publish` returns `Ok(0)`.
    /// Publishers never wait.
    DropNewest,
    /// The publisher gets the event back as [`PublishError::Full`](crate::PublishError::Full).
    /// Publishers never wait.
    Error,
}

/// A topic's capacity and overflow policy.
///
/// The capacity is exact (not rounded): it is how many published events a subscriber may have
/// unread. It is per topic, shared by all its subscribers, so memory does not grow with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TopicConfig {
    /// Unread events a subscriber may hold; at least 1 and at most [`TopicConfig::MAX_CAPACITY`].
    pub capacity: usize,
    /// What happens when a subscriber would hold more.
    pub overflow: Overflow,
}

impl TopicConfig {
    /// The largest capacity a topic takes (2^30 events).
    pub const MAX_CAPACITY: usize = 1 << 30;

    /// A config with `capacity` and `overflow`.
    pub const fn new(capacity: usize, overflow: Overflow) -> Self {
        Self { capacity, overflow }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.capacity == 0 {
            return Err(ConfigError::ZeroCapacity);
        }
        if self.capacity > Self::MAX_CAPACITY {
            return Err(ConfigError::CapacityTooLarge {
                capacity: self.capacity,
                max: Self::MAX_CAPACITY,
            });
        }
        Ok(())
    }
}

impl Default for TopicConfig {
    /// 1,024 events, [`Overflow::Block`]: lossless.
    fn default() -> Self {
        Self::new(1024, Overflow::Block)
    }
}
