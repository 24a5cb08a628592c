use thiserror::Error;

/// A ring configuration that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `capacity` was 0.
    #[error("stanchion-ring: LogRingBuilder::capacity must be at least 1")]
    ZeroCapacity,
    /// `lanes` was 0.
    #[error("stanchion-ring: LogRingBuilder::lanes must be at least 1")]
    ZeroLanes,
    /// `lanes` rings of `capacity` slots of `slot_bytes` (plus their bookkeeping) are more than
    /// [`ConfigError::MAX_BYTES`].
    #[error(
        "stanchion-ring: {lanes} lanes of capacity {capacity} with slot_bytes {slot_bytes} are more than the 16 GiB a ring may reserve"
    )]
    TooLarge {
        /// The capacity given (records per lane).
        capacity: usize,
        /// The slot size given.
        slot_bytes: usize,
        /// The lanes given.
        lanes: usize,
    },
}

impl ConfigError {
    /// The most bytes a ring may reserve, messages and bookkeeping together (16 GiB).
    pub const MAX_BYTES: u64 = 16 << 30;
}

/// A record the ring did not take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PushError {
    /// The ring was full: under `DropNewest` the record was dropped and counted; from
    /// [`try_push`](crate::Producer::try_push) under `Block` it was not written.
    #[error("stanchion-ring: the ring is full")]
    Full,
    /// The consumer is gone.
    #[error("stanchion-ring: the consumer is gone")]
    Closed,
}

/// A [`FlushGuard`](crate::FlushGuard) whose flusher did not finish within the shutdown timeout.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "stanchion-ring: the flusher did not finish within {waited:?}; {pending} records were still waiting"
)]
pub struct ShutdownError {
    /// How long the guard waited.
    pub waited: std::time::Duration,
    /// Records still in the ring when it gave up.
    pub pending: usize,
}
