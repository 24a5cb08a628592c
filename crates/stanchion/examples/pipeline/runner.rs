//! The workers: each pops a claimed job off the queue, runs its step through the hooks, the retry
//! policy and the circuit breaker, and announces the outcome on the bus.

use std::sync::Arc;
use std::time::{Duration, Instant};

use stanchion::breaker::{CallError, CircuitBreaker, ConsecutiveFailures, Retry, WaitInOpen};
use stanchion::bus::Topic;
use stanchion::hooks::{HookExecutor, RunStatus};
use stanchion::queue::PriorityQueue;
use stanchion::ring::Level;
use stanchion::store::{Job, JobStore, RedbStore};
use tokio::process::Command;

use crate::Log;
use crate::hooks::{AFTER_STEP, BEFORE_STEP, StepContext};
use crate::progress::{Progress, StepResult};

/// How long a claimed job stays ours without a heartbeat. Only one process opens the store, so a
/// rerun need not wait for a killed run's leases to end (see `schedule::resume`); with a store
/// shared by many machines, the lease is how the others tell a dead worker's jobs.
pub(crate) const LEASE: Duration = Duration::from_secs(10);

/// What the scheduler and its workers share.
pub(crate) struct Runner {
    pub(crate) store: RedbStore,
    /// Claimed jobs waiting for a free worker.
    pub(crate) queue: PriorityQueue<Job>,
    pub(crate) progress: Topic<Progress>,
    pub(crate) log: Log,
    hooks: HookExecutor<StepContext>,
    retry: Retry<CallError<String>>,
    breaker: CircuitBreaker,
}

impl Runner {
    pub(crate) fn new(
        store: RedbStore,
        progress: Topic<Progress>,
        log: Log,
        hooks: HookExecutor<StepContext>,
    ) -> anyhow::Result<Self> {
        // Three tries per run, 100 ms apart and doubling (with jitter): enough for a flaky test,
        // quick enough for an example.
        let retry = Retry::builder()
            .max_attempts(3)
            .base_delay(Duration::from_millis(100))
            .max_delay(Duration::from_secs(1))
            .build()?;
        // One breaker for every command: when five tries in a row fail (a missing tool, a full
        // disk), it opens, and tries for the next second are refused instead of piling on.
        let breaker = CircuitBreaker::builder()
            .consecutive_failures(Some(ConsecutiveFailures {
                failures: 5,
                slow_calls: None,
                within: Duration::from_secs(60),
            }))
            .wait_in_open(WaitInOpen::fixed(Duration::from_secs(1)))
            .record_slow_calls(false)
            .build()?;
        Ok(Self {
            store,
            queue: PriorityQueue::new(),
            progress,
            log,
            hooks,
            retry,
            breaker,
        })
    }

    /// A worker: runs jobs until the scheduler closes the queue. The scheduler records outcomes
    /// in the store; a worker only keeps its job's lease alive.
    pub(crate) async fn work(self: Arc<Self>) {
        while let Some((job, _priority)) = self.queue.pop_async().await {
            self.log.line(
                Level::Info,
                &job.name,
                format_args!("started (run {})", job.attempt),
            );
            self.announce(Progress::Started {
                step: job.name.clone(),
                run: job.attempt,
            })
            .await;
            let started = Instant::now();
            let outcome = self.run_step(&job).await;
            let result = StepResult {
                elapsed: started.elapsed(),
                outcome,
            };
            self.after_step(&job, &result).await;
            self.announce(Progress::Finished {
                step: job.name,
                result,
            })
            .await;
        }
    }

    /// `before_step` hooks, then the command with retries, keeping the job's lease alive
    /// meanwhile. Returns the tries the command took.
    async fn run_step(&self, job: &Job) -> Result<u32, String> {
        let report = self
            .hooks
            .run(BEFORE_STEP, StepContext::of(job))
            .await
            .map_err(|refused| refused.to_string())?;
        match &report.status {
            RunStatus::Cancelled { by, reason } => {
                return Err(format!(
                    "before_step hook {by} cancelled the step: {reason}"
                ));
            }
            RunStatus::Failed { by } => return Err(format!("before_step hook {by} failed")),
            _ => {}
        }
        let command = self.run_command(&report.context);
        tokio::pin!(command);
        let mut heartbeat = tokio::time::interval(LEASE / 3);
        heartbeat.tick().await; // the first tick is immediate; the claim just set the lease
        loop {
            tokio::select! {
                outcome = &mut command => return outcome,
                _ = heartbeat.tick() => {
                    if let Err(error) = self.store.heartbeat(job.id, job.attempt, LEASE).await {
                        self.log.line(Level::Warn, &job.name, format_args!("heartbeat: {error}"));
                    }
                }
            }
        }
    }

    async fn run_command(&self, context: &StepContext) -> Result<u32, String> {
        self.retry
            .run_async(tokio::time::sleep, |attempt| async move {
                let outcome = self.breaker.call_async(self.shell(context)).await;
                if let Err(error) = &outcome {
                    let line = format!("try {attempt} failed: {error}");
                    self.log.line(Level::Warn, &context.step, line);
                    self.announce(Progress::AttemptFailed {
                        step: context.step.clone(),
                        attempt,
                        error: error.to_string(),
                    })
                    .await;
                }
                outcome.map(|()| attempt)
            })
            .await
            .map_err(|gave_up| gave_up.to_string())
    }

    /// One try: `sh -c <command>`, its output logged line by line.
    async fn shell(&self, context: &StepContext) -> Result<(), String> {
        let output = Command::new("sh")
            .arg("-c")
            .arg(&context.command)
            .envs(context.env.iter().map(|(key, value)| (key, value)))
            // If the runner stops on an error, its commands stop with it rather than run on.
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|error| format!("cannot start sh: {error}"))?;
        let lines = |bytes: &[u8], level: Level| {
            for line in String::from_utf8_lossy(bytes).lines() {
                self.log.line(level, &context.step, line);
            }
        };
        lines(&output.stdout, Level::Info);
        lines(&output.stderr, Level::Warn);
        if output.status.success() {
            Ok(())
        } else {
            Err(format!("command {}", output.status))
        }
    }

    async fn after_step(&self, job: &Job, result: &StepResult) {
        let context = StepContext {
            result: Some(result.clone()),
            ..StepContext::of(job)
        };
        // The step is over: an after_step hook can report, not change the outcome.
        match self.hooks.run(AFTER_STEP, context).await {
            Ok(report) => {
                for failed in report.failures() {
                    self.log.line(
                        Level::Warn,
                        &job.name,
                        format_args!("after_step hook {}: {}", failed.name, failed.outcome),
                    );
                }
            }
            Err(refused) => self.log.line(Level::Warn, &job.name, refused),
        }
    }

    pub(crate) async fn announce(&self, event: Progress) {
        // Publishing fails only on a closed topic, and it is closed once every worker is done.
        let _ = self.progress.publish(event).await;
    }
}
