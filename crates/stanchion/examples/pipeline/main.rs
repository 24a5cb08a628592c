//! The end-to-end pipeline runner: the facade's crates working together.
//!
//! ```text
//! cargo run -p stanchion --features full --example pipeline -- crates/stanchion/examples/pipelines/build.toml
//! ```
//!
//! - `spec`: the TOML file, checked by `stanchion::dag` (a cycle is named, and nothing runs);
//! - `schedule`: one job per step in a redb file (`stanchion::store`), claimed as the step's
//!   dependencies succeed, so a run that was killed resumes where it stopped;
//! - `runner`: two workers take claimed jobs from a `stanchion::queue` priority queue and run
//!   each command through `stanchion::hooks`, a `Retry` and a `CircuitBreaker`
//!   (`stanchion::breaker`);
//! - `progress`: every step's news on a `stanchion::bus` topic, drawn as a progress bar;
//! - `Log`: the commands' output and the steps' summaries, through a `stanchion::ring` log ring
//!   into `<state>/pipeline.log`.

mod hooks;
mod progress;
mod runner;
mod schedule;
mod spec;

use std::fmt::Display;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use stanchion::bus::{EventBus, Overflow, TopicConfig};
use stanchion::ring::{FileSink, FlushPolicy, Flusher, Level, LogRing, Producer, Record};
use stanchion::store::RedbStore;

use crate::progress::{Progress, StepResult, tries_text};
use crate::runner::Runner;
use crate::schedule::Status;
use crate::spec::Pipeline;

const USAGE: &str = "usage: pipeline <pipeline.toml> [--state <dir>]";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<ExitCode> {
    let (file, state) = parse_args(std::env::args().skip(1))?;
    let pipeline = Pipeline::load(&file)?;
    let dag = pipeline.dag().map_err(|errors| {
        let problems: String = errors.iter().map(|e| format!("\n  {e}")).collect();
        anyhow!("{} is not a valid pipeline:{problems}", file.display())
    })?;
    let state = std::path::absolute(
        state.unwrap_or_else(|| PathBuf::from("target/pipeline-state").join(&pipeline.name)),
    )?;
    std::fs::create_dir_all(&state).with_context(|| format!("creating {}", state.display()))?;
    let started = Instant::now();

    let store = RedbStore::open(state.join("jobs.redb"))?;
    let (producer, consumer) = LogRing::builder().build()?;
    let log_file = state.join("pipeline.log");
    let sink =
        FileSink::open(&log_file).with_context(|| format!("opening {}", log_file.display()))?;
    let flusher = Flusher::spawn(consumer, sink, FlushPolicy::default())?;
    let log = Log(producer);

    // Blocking rather than dropping: the scheduler learns from this topic that steps finished.
    let bus = EventBus::new();
    let topic =
        bus.topic::<Progress>("pipeline.progress", TopicConfig::new(64, Overflow::Block))?;
    let bar = tokio::spawn(progress::render(topic.subscribe(), dag.len()));
    let hooks = hooks::executor(&state, log.clone())?;
    let runner = Arc::new(Runner::new(store, topic.clone(), log, hooks)?);

    let statuses = schedule::run(runner, &pipeline, &dag)
        .await
        .with_context(|| format!("running {} from {}", pipeline.name, state.display()))?;
    topic.close();
    bar.await?;
    flusher.shutdown()?;

    let all_succeeded = print_summary(&pipeline, &statuses, started.elapsed());
    println!("state and log: {}", state.display());
    Ok(if all_succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One line per step, in the order of the file; returns whether every step has succeeded.
fn print_summary(pipeline: &Pipeline, statuses: &[Status], elapsed: Duration) -> bool {
    let succeeded = statuses
        .iter()
        .filter(|status| {
            matches!(
                status,
                Status::Earlier | Status::Ran(StepResult { outcome: Ok(_), .. })
            )
        })
        .count();
    println!(
        "pipeline {}: {succeeded} of {} steps succeeded in {elapsed:.2?}",
        pipeline.name,
        statuses.len(),
    );
    for (step, status) in pipeline.steps.iter().zip(statuses) {
        let verdict = match status {
            Status::Earlier => "done earlier".to_owned(),
            Status::Ran(StepResult {
                elapsed,
                outcome: Ok(tries),
            }) => format!("succeeded  {elapsed:.2?}, {}", tries_text(*tries)),
            Status::Ran(StepResult {
                outcome: Err(error),
                ..
            }) => format!("FAILED     {error}"),
            Status::NotRun => "not run".to_owned(),
        };
        println!("  {:<12} {verdict}", step.name);
    }
    succeeded == statuses.len()
}

fn parse_args(
    mut args: impl Iterator<Item = String>,
) -> anyhow::Result<(PathBuf, Option<PathBuf>)> {
    let mut file = None;
    let mut state = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--state" => state = Some(args.next().context(USAGE)?.into()),
            "-h" | "--help" => bail!(USAGE),
            _ if file.is_none() && !arg.starts_with('-') => file = Some(arg.into()),
            _ => bail!("unexpected argument {arg:?}\n{USAGE}"),
        }
    }
    Ok((file.context(USAGE)?, state))
}

/// The pipeline's log: lines pushed into a lock-free ring, written to the file by the flusher
/// thread, so a chatty command never waits on the disk.
#[derive(Clone)]
pub(crate) struct Log(Producer);

impl Log {
    pub(crate) fn line(&self, level: Level, step: &str, message: impl Display) {
        let text = format!("{step}: {message}");
        // The ring drops (and counts) a line only when the flusher is far behind; a step must
        // not fail for want of a log line.
        let _ = self.0.push(Record::new(level, "pipeline", text.as_bytes()));
    }
}
