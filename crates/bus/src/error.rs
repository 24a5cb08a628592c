use thiserror::Error;

/// A topic configuration that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `capacity` was 0: a topic holds at least one event.
    #[error("stanchion-bus: TopicConfig::capacity must be at least 1")]
    ZeroCapacity,
    /// `capacity` was larger than [`TopicConfig::MAX_CAPACITY`](crate::TopicConfig::MAX_CAPACITY).
    #[error("stanchion-bus: TopicConfig::capacity is {capacity}, the most is {max}")]
    CapacityTooLarge {
        /// The capacity given.
        capacity: usize,
        /// The largest allowed.
        max: usize,
    },
    /// A pattern subscription asked for `Block` or `Error`: observers may not push back on the
    /// topics they watch.
    #[error(
        "stanchion-bus: a pattern subscription must use Overflow::DropOldest or DropNewest, not {0:?}"
    )]
    PatternMayNotPushBack(crate::Overflow),
}

/// Why the bus could not hand out a topic or subscription.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BusError {
    /// The topic exists with another event type.
    #[error("stanchion-bus: topic `{topic}` carries `{registered}`, not `{requested}`")]
    TypeMismatch {
        /// The topic's name.
        topic: String,
        /// The event type it was created with.
        registered: &'static str,
        /// The event type asked for.
        requested: &'static str,
    },
    /// The topic exists with another configuration.
    #[error("stanchion-bus: topic `{topic}` exists with {registered:?}, not {requested:?}")]
    ConfigMismatch {
        /// The topic's name.
        topic: String,
        /// Its configuration.
        registered: crate::TopicConfig,
        /// The configuration asked for.
        requested: crate::TopicConfig,
    },
    /// No topic has this name.
    #[error("stanchion-bus: no topic named `{0}`")]
    NotFound(String),
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// A publish that did not go through; the event (or, for a batch, the events not published) is
/// handed back.
#[derive(Clone, PartialEq, Eq, Error)]
pub enum PublishError<E> {
    /// The slowest subscriber holds `capacity` unread events: the policy is
    /// [`Overflow::Error`](crate::Overflow::Error), or [`Overflow::Block`](crate::Overflow::Block)
    /// with a `try_` method.
    #[error("stanchion-bus: the topic is full")]
    Full(E),
    /// The topic is closed.
    #[error("stanchion-bus: the topic is closed")]
    Closed(E),
}

impl<E> PublishError<E> {
    /// The event (or events) handed back.
    pub fn into_inner(self) -> E {
        match self {
            Self::Full(event) | Self::Closed(event) => event,
        }
    }
}

impl<E> std::fmt::Debug for PublishError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Full(_) => "Full(..)",
            Self::Closed(_) => "Closed(..)",
        })
    }
}

/// Why a blocking or async receive returned no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RecvError {
    /// Under [`Overflow::DropOldest`](crate::Overflow::DropOldest) this subscriber fell behind and
    /// lost this many events; the next receive continues with the oldest event still held.
    #[error("stanchion-bus: the subscriber lagged and lost {0} events")]
    Lagged(u64),
    /// The topic is closed and this subscriber has received everything published before.
    #[error("stanchion-bus: the topic is closed")]
    Closed,
}

/// Why [`Subscriber::try_recv`](crate::Subscriber::try_recv) returned no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TryRecvError {
    /// Nothing unread now.
    #[error("stanchion-bus: no event is ready")]
    Empty,
    /// As [`RecvError::Lagged`].
    #[error("stanchion-bus: the subscriber lagged and lost {0} events")]
    Lagged(u64),
    /// As [`RecvError::Closed`].
    #[error("stanchion-bus: the topic is closed")]
    Closed,
}

/// A lag reported by a subscriber's [`Stream`](futures_core::Stream): this many events were lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("stanchion-bus: the subscriber lagged and lost {0} events")]
pub struct Lagged(pub u64);
