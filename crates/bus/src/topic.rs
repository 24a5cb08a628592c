use std::fmt;
use std::sync::Arc;

use crate::config::{Overflow, TopicConfig};
use crate::error::{ConfigError, PublishError};
use crate::ring::{Refused, Ring};
use crate::stats::TopicStats;
use crate::subscriber::Subscriber;
use crate::sync::{Listener, Ordering};

/// A typed topic: the handle publishers hold and subscribers are made from.
///
/// Cheap to clone and shared across threads. The topic closes when [`close`](Self::close) is
/// called or its last handle is dropped (the [`EventBus`](crate::EventBus) that made it holds one
/// until [`EventBus::remove_topic`](crate::EventBus::remove_topic)).
///
/// The publish methods come in three forms that differ only under [`Overflow::Block`]:
/// `try_` never waits, `_blocking` blocks the thread, and the async form awaits.
///
/// ```
/// use stanchion_bus::{Overflow, Topic, TopicConfig};
///
/// let topic = Topic::<u32>::new("jobs.done", TopicConfig::new(2, Overflow::Error)).unwrap();
/// let mut sub = topic.subscribe();
/// assert_eq!(topic.try_publish(1), Ok(1)); // delivered to one subscriber
/// topic.try_publish(2).unwrap();
/// assert_eq!(topic.try_publish(3).unwrap_err().into_inner(), 3); // full: handed back
/// assert_eq!(sub.try_recv(), Ok(1));
/// ```
pub struct Topic<E> {
    ring: Arc<Ring<E>>,
}

impl<E> Topic<E> {
    /// A topic of its own, outside any bus.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming what is wrong with `config`.
    pub fn new(name: impl Into<Arc<str>>, config: TopicConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::from_ring(Arc::new(Ring::new(name.into(), config))))
    }

    pub(crate) fn from_ring(ring: Arc<Ring<E>>) -> Self {
        ring.handles.fetch_add(1, Ordering::Relaxed);
        Self { ring }
    }

    pub(crate) fn ring(&self) -> &Arc<Ring<E>> {
        &self.ring
    }

    /// The topic's name.
    pub fn name(&self) -> &str {
        &self.ring.name
    }

    /// The topic's configuration.
    pub fn config(&self) -> TopicConfig {
        self.ring.config
    }

    /// A new subscriber that receives the events published from now on.
    pub fn subscribe(&self) -> Subscriber<E> {
        Subscriber::new(Arc::clone(&self.ring))
    }

    /// Subscribers now.
    pub fn subscriber_count(&self) -> usize {
        self.ring.subscriber_count()
    }

    /// Whether anyone may receive an event published now: a subscriber, or a pattern
    /// subscription matching this topic. One atomic load, for publishers that skip building an
    /// event nobody would read; a subscriber that arrives right after a `false` misses that event,
    /// as it would have anyway.
    pub fn has_subscribers(&self) -> bool {
        self.ring.is_listened()
    }

    /// The topic's counters.
    pub fn stats(&self) -> TopicStats {
        self.ring.stats()
    }

    /// Closes the topic: later publishes are refused with [`PublishError::Closed`], and
    /// subscribers receive what was published before, then [`RecvError::Closed`](crate::RecvError::Closed).
    pub fn close(&self) {
        self.ring.close();
    }

    /// Whether the topic is closed.
    pub fn is_closed(&self) -> bool {
        self.ring.is_closed()
    }
}

impl<E: Clone> Topic<E> {
    /// Publishes `event` without waiting and returns how many subscribers it was published to
    /// (0 when there are none, or when [`Overflow::DropNewest`] dropped it).
    ///
    /// # Errors
    ///
    /// [`PublishError::Full`] under [`Overflow::Error`] or [`Overflow::Block`] when the slowest
    /// subscriber holds `capacity` unread events; [`PublishError::Closed`]. Both hand the event back.
    pub fn try_publish(&self, event: E) -> Result<usize, PublishError<E>> {
        self.ring
            .try_publish(event)
            .map_err(|refused| self.refused(refused))
    }

    /// Publishes `event`, blocking the thread while a [`Overflow::Block`] topic is full.
    ///
    /// # Errors
    ///
    /// [`PublishError::Closed`]; [`PublishError::Full`] under [`Overflow::Error`].
    pub fn publish_blocking(&self, mut event: E) -> Result<usize, PublishError<E>> {
        loop {
            match self.attempt(event) {
                Ok(done) => return done,
                Err(back) => event = back,
            }
            let listener = self.ring.space.listen();
            match self.attempt(event) {
                Ok(done) => return done,
                Err(back) => event = back,
            }
            listener.wait();
        }
    }

    /// Publishes `event`, waiting asynchronously while a [`Overflow::Block`] topic is full.
    /// Cancel-safe: dropping the future before it completes publishes nothing.
    ///
    /// # Errors
    ///
    /// As [`publish_blocking`](Self::publish_blocking).
    #[cfg(not(stanchion_loom))]
    pub async fn publish(&self, mut event: E) -> Result<usize, PublishError<E>> {
        loop {
            match self.attempt(event) {
                Ok(done) => return done,
                Err(back) => event = back,
            }
            let listener = self.ring.space.listen();
            match self.attempt(event) {
                Ok(done) => return done,
                Err(back) => event = back,
            }
            listener.await;
        }
    }

    /// One try for the waiting forms: the final result, or the event back when a `Block` topic is
    /// full and the caller should wait.
    fn attempt(&self, event: E) -> Result<Result<usize, PublishError<E>>, E> {
        match self.ring.try_publish(event) {
            Err(Refused::Full(event)) if self.ring.config.overflow == Overflow::Block => Err(event),
            done => Ok(done.map_err(|refused| self.refused(refused))),
        }
    }

    /// The error for a single event the topic did not take, counting it when it was full.
    fn refused(&self, refused: Refused<E>) -> PublishError<E> {
        match refused {
            Refused::Full(event) => {
                self.ring.count_rejected(1);
                PublishError::Full(event)
            }
            Refused::Closed(event) => PublishError::Closed(event),
        }
    }

    /// Publishes `events` in order without waiting, taking the topic's write lock once for as
    /// many as fit, and returns how many were published. Under [`Overflow::DropNewest`] the
    /// events that do not fit are dropped and counted; under `DropOldest` all are published.
    ///
    /// The iterator runs while the write lock is held, so it must not publish to this topic.
    ///
    /// # Errors
    ///
    /// [`PublishError::Full`] under [`Overflow::Error`] or [`Overflow::Block`] with the events
    /// that did not fit (those before them were published); [`PublishError::Closed`] with the
    /// events not published.
    pub fn try_publish_batch<I>(&self, events: I) -> Result<usize, PublishError<Vec<E>>>
    where
        I: IntoIterator<Item = E>,
    {
        let mut events = events.into_iter().peekable();
        self.ring
            .try_publish_some(&mut events)
            .map_err(|refused| self.hand_back(refused, &mut events))
    }

    /// As [`try_publish_batch`](Self::try_publish_batch), blocking the thread while a
    /// [`Overflow::Block`] topic is full, and returning how many events were published.
    ///
    /// # Errors
    ///
    /// [`PublishError::Closed`] with the events not published; [`PublishError::Full`] under
    /// [`Overflow::Error`].
    pub fn publish_batch_blocking<I>(&self, events: I) -> Result<usize, PublishError<Vec<E>>>
    where
        I: IntoIterator<Item = E>,
    {
        let mut events = events.into_iter().peekable();
        let mut published = 0;
        loop {
            if let Some(done) = self.batch_step(&mut events, &mut published) {
                return done;
            }
            let listener = self.ring.space.listen();
            if let Some(done) = self.batch_step(&mut events, &mut published) {
                return done;
            }
            listener.wait();
        }
    }

    /// As [`publish_batch_blocking`](Self::publish_batch_blocking), waiting asynchronously.
    /// If the future is dropped, the events published so far stay published.
    ///
    /// # Errors
    ///
    /// As [`publish_batch_blocking`](Self::publish_batch_blocking).
    #[cfg(not(stanchion_loom))]
    pub async fn publish_batch<I>(&self, events: I) -> Result<usize, PublishError<Vec<E>>>
    where
        I: IntoIterator<Item = E>,
    {
        let mut events = events.into_iter().peekable();
        let mut published = 0;
        loop {
            if let Some(done) = self.batch_step(&mut events, &mut published) {
                return done;
            }
            let listener = self.ring.space.listen();
            if let Some(done) = self.batch_step(&mut events, &mut published) {
                return done;
            }
            listener.await;
        }
    }

    /// Publishes what fits: the batch's result, or `None` when a full `Block` topic means the
    /// caller should wait for room.
    fn batch_step<I: Iterator<Item = E>>(
        &self,
        events: &mut std::iter::Peekable<I>,
        published: &mut usize,
    ) -> Option<Result<usize, PublishError<Vec<E>>>> {
        match self.ring.try_publish_some(events) {
            Ok(n) => Some(Ok(*published + n)),
            Err(Refused::Full(n)) if self.ring.config.overflow == Overflow::Block => {
                *published += n;
                None
            }
            Err(refused) => Some(Err(self.hand_back(refused, events))),
        }
    }

    /// The events a batch could not publish, handed back as its error says.
    fn hand_back<I: Iterator<Item = E>>(
        &self,
        refused: Refused<usize>,
        events: &mut std::iter::Peekable<I>,
    ) -> PublishError<Vec<E>> {
        let rest: Vec<E> = events.collect();
        match refused {
            Refused::Full(_) => {
                self.ring.count_rejected(rest.len() as u64);
                PublishError::Full(rest)
            }
            Refused::Closed(_) => PublishError::Closed(rest),
        }
    }
}

impl<E> Clone for Topic<E> {
    fn clone(&self) -> Self {
        Self::from_ring(Arc::clone(&self.ring))
    }
}

impl<E> Drop for Topic<E> {
    fn drop(&mut self) {
        if self.ring.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.ring.close();
        }
    }
}

impl<E> fmt::Debug for Topic<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Topic")
            .field("name", &self.ring.name)
            .field("config", &self.ring.config)
            .finish_non_exhaustive()
    }
}
