use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::ShutdownError;
use crate::record::Batch;
use crate::ring::{Consumer, Shared};
use crate::sink::Sink;
use crate::stats::RingStats;
use crate::sync::Listener;

/// When a [`Flusher`] writes and how long its guard waits at shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushPolicy {
    /// Most records handed to the sink in one write; also how many waiting records wake a
    /// sleeping flusher.
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
                    run(consumer, sink, policy, &control);
                    *control.done.lock().unwrap_or_else(|p| p.into_inner()) = true;
                    control.finished.notify_all();
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

fn run<S: Sink>(mut consumer: Consumer, mut sink: S, policy: FlushPolicy, control: &Control) {
    let max_batch = policy.max_batch.max(1);
    let shared = Arc::clone(&consumer.shared);
    shared.wake_at.store(
        max_batch.min(shared.queue.capacity().div_ceil(2)),
        Ordering::Relaxed,
    );
    let mut batch = Batch::new();
    let mut unflushed_since: Option<Instant> = None;
    loop {
        let taken = consumer.drain(&mut batch, max_batch);
        if taken > 0 {
            if let Err(error) = sink.write(&batch) {
                shared.record_error(&error);
            }
            shared.flushed.fetch_add(taken as u64, Ordering::Relaxed);
            batch.clear();
            let since = *unflushed_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= policy.max_delay {
                flush(&mut sink, &shared);
                unflushed_since = None;
            }
            continue;
        }
        // The ring is empty: flush what the sink buffered, then stop or sleep.
        if unflushed_since.take().is_some() {
            flush(&mut sink, &shared);
        }
        if control.shutdown.load(Ordering::Acquire) || consumer.is_finished() {
            // Pushes that finished before the shutdown request are in the ring by now.
            if consumer.is_empty() {
                return;
            }
            continue;
        }
        shared.sleeping.store(true, Ordering::SeqCst);
        let listener = shared.data.listen();
        if consumer.is_empty()
            && !control.shutdown.load(Ordering::Acquire)
            && !shared.producers_gone()
        {
            listener.wait_deadline(Instant::now() + policy.max_delay);
        }
        shared.sleeping.store(false, Ordering::Relaxed);
    }
}

fn flush<S: Sink>(sink: &mut S, shared: &Shared) {
    if let Err(error) = sink.flush() {
        shared.record_error(&error);
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
        let deadline = Instant::now() + self.timeout;
        let mut done = self.control.done.lock().unwrap_or_else(|p| p.into_inner());
        while !*done {
            let now = Instant::now();
            if now >= deadline {
                return Err(ShutdownError {
                    waited: self.timeout,
                    pending: self.shared.queue.len(),
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
