use std::fmt;
use std::sync::Arc;
#[cfg(not(stanchion_loom))]
use std::{
    pin::Pin,
    task::{Context, Poll},
};

use stanchion_core::CachePadded;

use crate::error::{RecvError, TryRecvError};
use crate::ring::{Cursor, Read, Ring};
use crate::sync::Listener;

/// How many rounds a blocking receive spins (1, 2, 4, ... pause instructions) before parking;
/// none under loom, where spinning only multiplies the interleavings to explore.
const SPINS: u32 = if cfg!(stanchion_loom) { 0 } else { 7 };

/// Receives every event published on a topic after it subscribed, in publish order, except those
/// it loses under [`Overflow::DropOldest`](crate::Overflow::DropOldest), which it is told about.
///
/// Made by [`Topic::subscribe`](crate::Topic::subscribe) or
/// [`EventBus::subscribe_pattern`](crate::EventBus::subscribe_pattern). Receiving takes no lock and
/// writes only this subscriber's own cache line. Dropping a subscriber unblocks any publisher that
/// was waiting for it. Events arrive as clones of the published value: publish an `Arc<T>` when
/// `T` is large, so that subscribers share one copy.
pub struct Subscriber<E> {
    ring: Arc<Ring<E>>,
    cursor: Arc<CachePadded<Cursor>>,
    /// The next event this subscriber expects; the cursor differs when a publisher moved it.
    next: u64,
    lagged: u64,
    #[cfg(not(stanchion_loom))]
    listener: Option<stanchion_core::event::EventListener>,
}

impl<E> Subscriber<E> {
    pub(crate) fn new(ring: Arc<Ring<E>>) -> Self {
        let (cursor, next) = ring.subscribe();
        Self {
            ring,
            cursor,
            next,
            lagged: 0,
            #[cfg(not(stanchion_loom))]
            listener: None,
        }
    }

    /// The name of the topic (or the pattern) this subscriber receives from.
    pub fn topic(&self) -> &str {
        &self.ring.name
    }

    /// Events received so far.
    pub fn delivered(&self) -> u64 {
        self.cursor.delivered.load(crate::sync::Ordering::Relaxed)
    }

    /// Events lost so far (the sum of every `Lagged` reported).
    pub fn lagged(&self) -> u64 {
        self.lagged
    }

    /// Whether the topic is closed (events may still be left to receive).
    pub fn is_closed(&self) -> bool {
        self.ring.is_closed()
    }
}

impl<E: Clone> Subscriber<E> {
    /// Receives the next event if one is ready.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when nothing is ready, [`TryRecvError::Lagged`] once after
    /// events were lost, [`TryRecvError::Closed`] when the topic is closed and drained.
    pub fn try_recv(&mut self) -> Result<E, TryRecvError> {
        let mut event = None;
        match self.read(1, |e| event = Some(e)) {
            Read::Events(_) => Ok(event.expect("one event was read")),
            Read::Empty => Err(TryRecvError::Empty),
            Read::Lagged(n) => Err(TryRecvError::Lagged(n)),
            Read::Closed => Err(TryRecvError::Closed),
        }
    }

    /// Appends up to `max` ready events to `out` and returns how many; `Ok(0)` when none is ready.
    ///
    /// A batch stops before a gap: the loss is reported by the next call.
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Self::try_recv), except that nothing ready (or `max` of 0) is `Ok(0)`.
    pub fn try_recv_batch(&mut self, out: &mut Vec<E>, max: usize) -> Result<usize, RecvError> {
        if max == 0 {
            return Ok(0);
        }
        match self.read(max, |e| out.push(e)) {
            Read::Events(n) => Ok(n),
            Read::Empty => Ok(0),
            Read::Lagged(n) => Err(RecvError::Lagged(n)),
            Read::Closed => Err(RecvError::Closed),
        }
    }

    /// Receives the next event, blocking the thread until one is published.
    ///
    /// # Errors
    ///
    /// [`RecvError::Lagged`] once after events were lost; [`RecvError::Closed`] when the topic is
    /// closed and drained.
    pub fn recv_blocking(&mut self) -> Result<E, RecvError> {
        let mut event = None;
        self.wait_blocking(1, |e| event = Some(e))
            .map(|_| event.expect("one event was read"))
    }

    /// Appends at least one and up to `max` events to `out`, blocking until one is published, and
    /// returns how many.
    ///
    /// # Errors
    ///
    /// As [`recv_blocking`](Self::recv_blocking).
    pub fn recv_batch_blocking(
        &mut self,
        out: &mut Vec<E>,
        max: usize,
    ) -> Result<usize, RecvError> {
        self.wait_blocking(max.max(1), |e| out.push(e))
    }

    /// Receives the next event, waiting asynchronously until one is published. Cancel-safe: an
    /// event is taken only when the future completes.
    ///
    /// # Errors
    ///
    /// As [`recv_blocking`](Self::recv_blocking).
    #[cfg(not(stanchion_loom))]
    pub async fn recv(&mut self) -> Result<E, RecvError> {
        let mut event = None;
        self.wait_async(1, |e| event = Some(e))
            .await
            .map(|_| event.expect("one event was read"))
    }

    /// Appends at least one and up to `max` events to `out`, waiting asynchronously until one is
    /// published, and returns how many. Cancel-safe.
    ///
    /// # Errors
    ///
    /// As [`recv_blocking`](Self::recv_blocking).
    #[cfg(not(stanchion_loom))]
    pub async fn recv_batch(&mut self, out: &mut Vec<E>, max: usize) -> Result<usize, RecvError> {
        self.wait_async(max.max(1), |e| out.push(e)).await
    }

    fn read(&mut self, max: usize, out: impl FnMut(E)) -> Read {
        let read = self.ring.read(&self.cursor, &mut self.next, max, out);
        if let Read::Lagged(n) = read {
            self.lagged += n;
        }
        read
    }

    fn wait_blocking(&mut self, max: usize, mut out: impl FnMut(E)) -> Result<usize, RecvError> {
        // Events usually follow within microseconds: spin briefly before parking.
        let mut spins = 0;
        loop {
            if let Some(done) = self.ready(max, &mut out) {
                return done;
            }
            #[cfg_attr(
                stanchion_loom,
                expect(clippy::absurd_extreme_comparisons, reason = "loom spins no rounds")
            )]
            if spins < SPINS {
                for _ in 0..1 << spins {
                    std::hint::spin_loop();
                }
                spins += 1;
                continue;
            }
            // Listen, then look again: a publish between the look and the listen is not missed.
            let ring = Arc::clone(&self.ring);
            let listener = ring.published.listen();
            if let Some(done) = self.ready(max, &mut out) {
                return done;
            }
            listener.wait();
        }
    }

    #[cfg(not(stanchion_loom))]
    async fn wait_async(&mut self, max: usize, mut out: impl FnMut(E)) -> Result<usize, RecvError> {
        loop {
            if let Some(done) = self.ready(max, &mut out) {
                return done;
            }
            let listener = self.ring.published.listen();
            if let Some(done) = self.ready(max, &mut out) {
                return done;
            }
            listener.await;
        }
    }

    /// A read's result for the waiting forms, `None` when there is nothing yet.
    fn ready(&mut self, max: usize, out: &mut impl FnMut(E)) -> Option<Result<usize, RecvError>> {
        match self.read(max, out) {
            Read::Events(n) => Some(Ok(n)),
            Read::Empty => None,
            Read::Lagged(n) => Some(Err(RecvError::Lagged(n))),
            Read::Closed => Some(Err(RecvError::Closed)),
        }
    }
}

/// Yields events as `Ok`, losses as `Err(Lagged)`, and ends when the topic is closed and drained.
#[cfg(not(stanchion_loom))]
impl<E: Clone> futures_core::Stream for Subscriber<E> {
    type Item = Result<E, crate::error::Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            let mut event = None;
            match this.read(1, |e| event = Some(e)) {
                Read::Events(_) => {
                    this.listener = None;
                    return Poll::Ready(event.map(Ok));
                }
                Read::Lagged(n) => {
                    this.listener = None;
                    return Poll::Ready(Some(Err(crate::error::Lagged(n))));
                }
                Read::Closed => {
                    this.listener = None;
                    return Poll::Ready(None);
                }
                Read::Empty => {}
            }
            match &mut this.listener {
                // Listen, then look again before waiting.
                None => this.listener = Some(this.ring.published.listen()),
                Some(listener) => {
                    std::task::ready!(Pin::new(listener).poll(cx));
                    this.listener = None;
                }
            }
        }
    }
}

impl<E> Drop for Subscriber<E> {
    fn drop(&mut self) {
        self.ring.unsubscribe(&self.cursor);
    }
}

impl<E> fmt::Debug for Subscriber<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("topic", &self.ring.name)
            .field("next", &self.next)
            .field("lagged", &self.lagged)
            .finish_non_exhaustive()
    }
}
