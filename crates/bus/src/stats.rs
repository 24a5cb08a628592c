/// A topic's counters, read by [`Topic::stats`](crate::Topic::stats) or
/// [`EventBus::stats`](crate::EventBus::stats).
///
/// Publishers count under the write lock they already hold and each subscriber on its own cache
/// line, so counting costs no shared atomic per event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicStats {
    /// Events published (each went to every subscriber present at the time).
    pub published: u64,
    /// Events received, summed over subscribers, including those that have left.
    pub delivered: u64,
    /// Events dropped by [`Overflow::DropNewest`](crate::Overflow::DropNewest).
    pub dropped: u64,
    /// Events handed back to their publisher as [`PublishError::Full`](crate::PublishError::Full).
    pub rejected: u64,
    /// Events lost by lagging subscribers under
    /// [`Overflow::DropOldest`](crate::Overflow::DropOldest), summed over subscribers.
    pub lagged: u64,
    /// Subscribers now.
    pub subscribers: usize,
}
