use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::ShutdownError;
use crate::ring::{Consumer, Shared};
use crate::sink::Sink;
use crate::stats::RingStats;
use crate::sync::Listener;

/// When a [`Flusher`] writes and how long its guard waits at shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushPolicy {
    /// Most records handed to the sink in one batch (between two calls of
    /// [`Sink::end_batch`]); also how many records waiting in one lane (or half a lane, if
    /// fewer) wake a sleeping flusher.
    pub max_batch: usize,
    /// Longest a record waits in the ring, or in the sink's buffer, before it is written and the
    /// sink flushed.
    pub max_delay: Duration,
    /// Longest the [`FlushGuard`] waits for the flusher to drain and finish when dropped.
    pub shutdown_timeout: Duration,
}

impl Default for FlushPolicy {
    /// Batches of 1,024, 100 ms, and 5 s to shut down.
    fn default() -> Self {
        Self {
            max_batch: 1024,
            max_delay: Duration::from_millis(100),
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

/// A thread that drains a ring into a [`Sink`] in batches.
#[derive(Debug)]
pub struct Flusher;

struct Control {
    shutdown: AtomicBool,
    done: Mutex<bool>,
    finished: Condvar,
}

impl Flusher {
    /// Starts the flusher thread; it runs until its guard is dropped or every producer is gone
    /// and the ring is drained.
    ///
    /// # Errors
    ///
    /// The error from spawning the thread.
    pub fn spawn<S: Sink>(
        consumer: Consumer,
        sink: S,
        policy: FlushPolicy,
    ) -> std::io::Result<FlushGuard> {
        let control = Arc::new(Control {
            shutdown: AtomicBool::new(false),
            done: Mutex::new(false),
            finished: Condvar::new(),
        });
        let shared = Arc::clone(&consumer.shared);
        let thread = {
            let control = Arc::clone(&control);
            std::thread::Builder::new()
                .name("stanchion-ring-flusher".into())
                .spawn(move || {
                    let _done = Done(&control);
                    run(consumer, sink, policy, &control);
                })?
        };
        Ok(FlushGuard {
            shared,
            control,
            thread: Some(thread),
            timeout: policy.shutdown_timeout,
        })
    }
}

/// Tells the guard the flusher has ended, however it ended.
struct Done<'a>(&'a Control);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        *self.0.done.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.0.finished.notify_all();
    }
}

fn run<S: Sink>(mut consumer: Consumer, mut sink: S, policy: FlushPolicy, control: &Control) {
    let max_batch = policy.max_batch.max(1);
    let shared = Arc::clone(&consumer.shared);
    shared.wake_at.store(
        max_batch.min(shared.lanes[0].capacity().div_ceil(2)),
        Ordering::Relaxed,
    );
    // A zero delay would make the flusher spin.
    let max_delay = policy.max_delay.max(Duration::from_millis(1));
    let mut unflushed_since: Option<Instant> = None;
    // At shutdown: how many records had been pushed to each lane when it was asked for.
    let mut shutdown_at: Option<Vec<u64>> = None;
    loop {
        // Each record goes to the sink straight from its slot: no copy into a batch. One guard
        // against a panicking sink per batch, not per record: a guard per record measured 20%
        // slower. A panic ends the batch early; the records after it wait in the ring for the
        // next one.
        let mut taken = 0;
        let drained = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            consumer.drain_with(max_batch, |record| {
                taken += 1;
                if let Err(error) = sink.write(&record) {
                    shared.record_error(&error);
                }
            });
            Ok(())
        }));
        report(&shared, drained);
        if taken > 0 {
            guarded(&shared, || sink.end_batch());
            shared.flushed.fetch_add(taken as u64, Ordering::Relaxed);
            let since = *unflushed_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= max_delay {
                flush(&mut sink, &shared);
                unflushed_since = None;
            }
        }
        // Checked after every batch, not only when the ring runs empty: producers that keep
        // pushing must not hold shutdown up.
        let done = if control.shutdown.load(Ordering::Acquire) {
            // Every push that finished before the request is counted here.
            let targets = shutdown_at
                .get_or_insert_with(|| shared.lanes.iter().map(|lane| lane.pushed()).collect());
            shared
                .lanes
                .iter()
                .zip(targets.iter())
                .all(|(lane, &target)| lane.popped() >= target)
        } else {
            taken == 0 && consumer.is_finished()
        };
        if done {
            if unflushed_since.is_some() {
                flush(&mut sink, &shared);
            }
            return;
        }
        if taken == max_batch {
            // A full batch: more are likely waiting.
            continue;
        }
        if shutdown_at.is_some() {
            if taken == 0 {
                // Nothing ready, yet a push counted in the targets is still writing its slot: let
                // that producer run (it may be waiting for this core) rather than spin against it.
                std::thread::yield_now();
            }
            continue;
        }
        // Caught up with the producers: flush what the sink buffered, then sleep until a batch
        // waits, even if a few records came in meanwhile. Draining them one by one as they come
        // is a trap that does not let go: the flusher reads each slot just after a producer
        // wrote it and polls the line the producer writes next, every record moves between two
        // cores a few times, and both sides slow to the pace at which the flusher keeps finding
        // a record, so it never sleeps (one producer measured 3 to 8 ms instead of 1.3 ms).
        let wake_at = shared.wake_at.load(Ordering::Relaxed);
        if consumer.len() >= wake_at {
            // A batch waits, pushed since the drain ended or behind a record still being
            // written: take it, without flushing or sleeping.
            continue;
        }
        if unflushed_since.take().is_some() {
            flush(&mut sink, &shared);
        }
        shared.sleeping.store(true, Ordering::SeqCst);
        let listener = shared.data.listen();
        if consumer.len() < wake_at
            && !control.shutdown.load(Ordering::Acquire)
            && !shared.producers_gone()
        {
            match Instant::now().checked_add(max_delay) {
                Some(deadline) => drop(listener.wait_deadline(deadline)),
                None => listener.wait(),
            }
        }
        shared.sleeping.store(false, Ordering::Relaxed);
    }
}

fn flush<S: Sink>(sink: &mut S, shared: &Shared) {
    guarded(shared, || sink.flush());
}

/// Runs a sink call, counting an error or a panic as a sink error: neither stops the flusher.
fn guarded(shared: &Shared, call: impl FnOnce() -> std::io::Result<()>) {
    report(
        shared,
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)),
    );
}

/// Counts a failed or panicked sink call.
fn report(shared: &Shared, outcome: std::thread::Result<std::io::Result<()>>) {
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(error)) => shared.record_error(&error),
        Err(_) => shared.record_error(&std::io::Error::other("the sink panicked")),
    }
}

/// Keeps a [`Flusher`] running; dropping it writes out every record pushed before, flushes the
/// sink and joins the thread, waiting at most [`FlushPolicy::shutdown_timeout`].
#[must_use = "dropping the guard stops the flusher"]
pub struct FlushGuard {
    shared: Arc<Shared>,
    control: Arc<Control>,
    thread: Option<JoinHandle<()>>,
    timeout: Duration,
}

impl FlushGuard {
    /// The ring's counters.
    pub fn stats(&self) -> RingStats {
        self.shared.stats()
    }

    /// The last error the sink returned, if any.
    pub fn last_error(&self) -> Option<String> {
        crate::sync::lock(&self.shared.last_error).clone()
    }

    /// Stops the flusher as dropping the guard does, and says whether it finished in time.
    ///
    /// # Errors
    ///
    /// [`ShutdownError`] when the flusher was still busy after the shutdown timeout (a slow or
    /// stuck sink); its thread is then left to finish on its own.
    pub fn shutdown(mut self) -> Result<(), ShutdownError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), ShutdownError> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        self.control.shutdown.store(true, Ordering::Release);
        self.shared.data.notify(1);
        // A timeout too large for a deadline means waiting as long as it takes.
        let deadline = Instant::now().checked_add(self.timeout);
        let mut done = self.control.done.lock().unwrap_or_else(|p| p.into_inner());
        while !*done {
            let Some(deadline) = deadline else {
                done = self
                    .control
                    .finished
                    .wait(done)
                    .unwrap_or_else(|p| p.into_inner());
                continue;
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(ShutdownError {
                    waited: self.timeout,
                    pending: self.shared.len(),
                });
            }
            done = self
                .control
                .finished
                .wait_timeout(done, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        drop(done);
        // It has returned from its loop; joining only reaps the thread.
        let _ = thread.join();
        Ok(())
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

impl std::fmt::Debug for FlushGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlushGuard")
            .field("stats", &self.stats())
            .field("shutdown_timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
