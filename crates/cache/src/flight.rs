//! Single-flight loads: the first caller to miss on a key runs the loader, later callers for the
//! same key wait for its result instead of loading again.
//!
//! The leader holds a [`LeaderGuard`]; whatever ends its load (a value, an error, a panic, its
//! future being dropped) resolves the flight and wakes every waiter, blocking or async. A waiter
//! that sees the load abandoned, or failed with an error type it cannot receive, starts over and
//! may become the next leader.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::cache::Cache;
use crate::error::InsertError;
use crate::stats::RemovalCause;
use crate::sync::{Arc, Condvar, Mutex, Ordering, lock};

type FlightMap<K, V> = HashMap<K, Arc<Flight<V>>, foldhash::fast::RandomState>;

/// The loads in flight, sharded like the cache.
pub(crate) struct Flights<K, V> {
    shards: Box<[Mutex<FlightMap<K, V>>]>,
}

impl<K, V> Flights<K, V> {
    pub(crate) fn new(shards: usize) -> Self {
        Self {
            shards: (0..shards)
                .map(|_| Mutex::new(HashMap::default()))
                .collect(),
        }
    }
}

/// How a load ended, as its waiters see it.
enum Outcome<V> {
    Loaded(V),
    /// The loader's error, as an `Arc<E>` for waiters that asked with the same `E`.
    Failed(std::sync::Arc<dyn Any + Send + Sync>),
    Abandoned,
}

impl<V: Clone> Clone for Outcome<V> {
    fn clone(&self) -> Self {
        match self {
            Outcome::Loaded(value) => Outcome::Loaded(value.clone()),
            Outcome::Failed(error) => Outcome::Failed(std::sync::Arc::clone(error)),
            Outcome::Abandoned => Outcome::Abandoned,
        }
    }
}

enum State<V> {
    Loading { wakers: Vec<Waker> },
    Done(Outcome<V>),
}

pub(crate) struct Flight<V> {
    state: Mutex<State<V>>,
    done: Condvar,
}

impl<V: Clone> Flight<V> {
    fn new() -> Self {
        Self {
            state: Mutex::new(State::Loading { wakers: Vec::new() }),
            done: Condvar::new(),
        }
    }

    fn resolve(&self, outcome: Outcome<V>) {
        let wakers = {
            let mut state = lock(&self.state);
            match std::mem::replace(&mut *state, State::Done(outcome)) {
                State::Loading { wakers } => wakers,
                State::Done(_) => Vec::new(),
            }
        };
        self.done.notify_all();
        wakers.into_iter().for_each(Waker::wake);
    }

    fn wait(&self) -> Outcome<V> {
        let mut state = lock(&self.state);
        loop {
            match &*state {
                State::Done(outcome) => return outcome.clone(),
                State::Loading { .. } => {
                    state = self
                        .done
                        .wait(state)
                        .unwrap_or_else(|poison| poison.into_inner());
                }
            }
        }
    }

    fn poll_wait(&self, cx: &mut Context<'_>) -> Poll<Outcome<V>> {
        let mut state = lock(&self.state);
        match &mut *state {
            State::Done(outcome) => Poll::Ready(outcome.clone()),
            State::Loading { wakers } => {
                if !wakers.iter().any(|waker| waker.will_wake(cx.waker())) {
                    wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

struct WaitFlight<'a, V>(&'a Flight<V>);

impl<V: Clone> Future for WaitFlight<'_, V> {
    type Output = Outcome<V>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome<V>> {
        self.0.poll_wait(cx)
    }
}

/// What a caller is to the flight of its key.
enum Role<V> {
    Hit(V),
    Leader(Arc<Flight<V>>, u64),
    Waiter(Arc<Flight<V>>),
}

/// Resolves the flight as abandoned unless the leader resolved it: a panic or a dropped future.
struct LeaderGuard<'a, K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    cache: &'a Cache<K, V>,
    key: &'a K,
    flight: Arc<Flight<V>>,
    resolved: bool,
}

impl<K, V> LeaderGuard<'_, K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn resolve(mut self, outcome: Outcome<V>) {
        self.resolved = true;
        self.cache.end_flight(self.key, &self.flight, outcome);
    }
}

impl<K, V> Drop for LeaderGuard<'_, K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn drop(&mut self) {
        if !self.resolved {
            self.cache
                .end_flight(self.key, &self.flight, Outcome::Abandoned);
        }
    }
}

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A hit, or the flight for `key` joined or started. Only a call's `first` look counts as
    /// a hit or a miss: a waiter whose leader gave up looks again.
    fn begin(&self, key: &K, first: bool) -> Role<V> {
        let found = if first {
            self.get(key)
        } else {
            self.get_uncounted(key)
        };
        if let Some(value) = found {
            return Role::Hit(value);
        }
        let hash = self.hash(key);
        let flights = &self.inner.flights.shards[hash as usize % self.inner.flights.shards.len()];
        let mut flights = lock(flights);
        if let Some(flight) = flights.get(key) {
            return Role::Waiter(Arc::clone(flight));
        }
        // A flight may have ended between the caller's miss and this lock: its value is cached
        // by now, because a leader stores before it leaves the map.
        if let Some(value) = self.get_uncounted(key) {
            return Role::Hit(value);
        }
        let flight = Arc::new(Flight::new());
        flights.insert(key.clone(), Arc::clone(&flight));
        Role::Leader(flight, self.inner.epoch.load(Ordering::Acquire))
    }

    fn lead<'a>(&'a self, key: &'a K, flight: Arc<Flight<V>>) -> LeaderGuard<'a, K, V> {
        LeaderGuard {
            cache: self,
            key,
            flight,
            resolved: false,
        }
    }

    fn end_flight(&self, key: &K, flight: &Arc<Flight<V>>, outcome: Outcome<V>) {
        let hash = self.hash(key);
        let flights = &self.inner.flights.shards[hash as usize % self.inner.flights.shards.len()];
        lock(flights).remove(key);
        flight.resolve(outcome);
    }

    /// Ends a successful load: stores the value unless the key was written or something was
    /// invalidated meanwhile, then ends the flight, and only then calls the listener, which may
    /// load this key itself.
    fn finish_load(&self, guard: LeaderGuard<'_, K, V>, epoch: u64, value: &V) {
        let mut removed = self.removed();
        if let Err(InsertError::TooHeavy { key, value, .. }) =
            self.insert_loaded(guard.key.clone(), value.clone(), epoch, &mut removed)
        {
            removed.push(key, value, RemovalCause::Rejected);
        }
        guard.resolve(Outcome::Loaded(value.clone()));
        self.notify(removed);
    }

    /// The value for `key`, loading it with `init` on a miss.
    ///
    /// Concurrent callers missing on the same key run one `init` between them; the others block
    /// until it returns and share its value. If `init` panics, the panic propagates to its caller
    /// and one of the waiters loads instead. A value loaded while the key (or anything, through
    /// `invalidate_if` or `clear`) was invalidated is returned but not stored.
    ///
    /// # Examples
    ///
    /// ```
    /// let cache = stanchion_cache::Cache::new(100);
    /// let value = cache.get_or_insert_with("config".to_string(), || "loaded".to_string());
    /// assert_eq!(value, "loaded");
    /// assert_eq!(cache.get("config").as_deref(), Some("loaded"));
    /// ```
    pub fn get_or_insert_with(&self, key: K, init: impl FnOnce() -> V) -> V {
        match self.try_get_or_insert_with(key, || Ok::<V, std::convert::Infallible>(init())) {
            Ok(value) => value,
            Err(never) => match *never {},
        }
    }

    /// The value for `key`, loading it with the fallible `init` on a miss.
    ///
    /// Like [`get_or_insert_with`](Self::get_or_insert_with); an error is not cached. It is
    /// returned to the caller that ran `init` and to the callers waiting with the same error
    /// type; waiters that asked with another error type load again.
    ///
    /// # Errors
    ///
    /// The error of `init`, shared in an `Arc`.
    ///
    /// # Examples
    ///
    /// ```
    /// let cache = stanchion_cache::Cache::new(100);
    /// let failed = cache.try_get_or_insert_with(1, || "0x".parse::<u32>());
    /// assert!(failed.is_err());
    /// assert_eq!(cache.get(&1), None);
    /// assert_eq!(cache.try_get_or_insert_with(1, || "7".parse::<u32>()), Ok(7));
    /// ```
    pub fn try_get_or_insert_with<E>(
        &self,
        key: K,
        init: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, std::sync::Arc<E>>
    where
        E: Send + Sync + 'static,
    {
        let mut first = true;
        loop {
            match self.begin(&key, std::mem::replace(&mut first, false)) {
                Role::Hit(value) => return Ok(value),
                Role::Leader(flight, epoch) => {
                    let guard = self.lead(&key, flight);
                    return self.settle(guard, epoch, init());
                }
                Role::Waiter(flight) => {
                    if let Some(result) = received(flight.wait()) {
                        return result;
                    }
                }
            }
        }
    }

    /// The value for `key`, loading it with the future `init` on a miss; the async form of
    /// [`get_or_insert_with`](Self::get_or_insert_with). Waiters await without blocking a thread.
    /// If the leading future is dropped before it finishes, a waiter loads instead.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let cache = stanchion_cache::Cache::new(100);
    /// let value = cache.get_or_insert_with_async(7, async { 49 }).await;
    /// assert_eq!(value, 49);
    /// # });
    /// ```
    pub async fn get_or_insert_with_async(&self, key: K, init: impl Future<Output = V>) -> V {
        let init = async { Ok::<V, std::convert::Infallible>(init.await) };
        match self.try_get_or_insert_with_async(key, init).await {
            Ok(value) => value,
            Err(never) => match *never {},
        }
    }

    /// The fallible async form of [`try_get_or_insert_with`](Self::try_get_or_insert_with).
    ///
    /// # Errors
    ///
    /// The error of `init`, shared in an `Arc`.
    pub async fn try_get_or_insert_with_async<E>(
        &self,
        key: K,
        init: impl Future<Output = Result<V, E>>,
    ) -> Result<V, std::sync::Arc<E>>
    where
        E: Send + Sync + 'static,
    {
        let mut first = true;
        loop {
            match self.begin(&key, std::mem::replace(&mut first, false)) {
                Role::Hit(value) => return Ok(value),
                Role::Leader(flight, epoch) => {
                    let guard = self.lead(&key, flight);
                    return self.settle(guard, epoch, init.await);
                }
                Role::Waiter(flight) => {
                    if let Some(result) = received(WaitFlight(&flight).await) {
                        return result;
                    }
                }
            }
        }
    }

    fn settle<E>(
        &self,
        guard: LeaderGuard<'_, K, V>,
        epoch: u64,
        result: Result<V, E>,
    ) -> Result<V, std::sync::Arc<E>>
    where
        E: Send + Sync + 'static,
    {
        match result {
            Ok(value) => {
                self.finish_load(guard, epoch, &value);
                Ok(value)
            }
            Err(error) => {
                let error = std::sync::Arc::new(error);
                let shared: std::sync::Arc<dyn Any + Send + Sync> =
                    std::sync::Arc::new(std::sync::Arc::clone(&error));
                guard.resolve(Outcome::Failed(shared));
                Err(error)
            }
        }
    }
}

/// What a waiter takes from the outcome: the value, an error of its own type, or `None` to
/// start over.
fn received<V, E: Send + Sync + 'static>(
    outcome: Outcome<V>,
) -> Option<Result<V, std::sync::Arc<E>>> {
    match outcome {
        Outcome::Loaded(value) => Some(Ok(value)),
        Outcome::Failed(error) => error
            .downcast_ref::<std::sync::Arc<E>>()
            .map(|error| Err(std::sync::Arc::clone(error))),
        Outcome::Abandoned => None,
    }
}
