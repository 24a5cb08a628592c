/// A ring's counters, from [`Producer::stats`](crate::Producer::stats),
/// [`Consumer::stats`](crate::Consumer::stats) or [`FlushGuard::stats`](crate::FlushGuard::stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RingStats {
    /// Records written into the ring.
    pub pushed: u64,
    /// Records lost to the overflow policy: new ones under `DropNewest`, old ones under
    /// `DropOldest`.
    pub dropped: u64,
    /// Records whose message did not fit a slot and went through a heap buffer.
    pub spilled: u64,
    /// Records a flusher handed to its sink.
    pub flushed: u64,
    /// Sink writes or flushes that failed.
    pub sink_errors: u64,
    /// The most records the consumer found waiting.
    pub high_watermark: usize,
    /// Records waiting now.
    pub len: usize,
    /// The ring's capacity.
    pub capacity: usize,
}
