//! The scheduler: picks up where an earlier run stopped, then hands each step to the workers as
//! soon as its dependencies have succeeded, and records every outcome in the store.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context as _, anyhow, bail};
use stanchion::dag::{Dag, NodeIndex, ReadySet};
use stanchion::store::{Job, JobState, JobStore, ListFilter, NewJob, RedbStore, StoreError};

use crate::progress::{Progress, StepResult};
use crate::runner::{LEASE, Runner};
use crate::spec::Pipeline;

const WORKERS: usize = 2;

/// Runs of one step (across processes, a killed run included) before the store gives it up.
const RUNS_PER_STEP: u32 = 3;

/// How each step ended, in the order of the file.
pub(crate) enum Status {
    /// Succeeded in an earlier run of the pipeline.
    Earlier,
    Ran(StepResult),
    /// A step failed before this one's dependencies were done.
    NotRun,
}

pub(crate) async fn run(
    runner: Arc<Runner>,
    pipeline: &Pipeline,
    dag: &Dag,
) -> anyhow::Result<Vec<Status>> {
    let mut statuses: Vec<Status> = (0..dag.len()).map(|_| Status::NotRun).collect();
    let mut ready = dag.ready_set();
    resume(&runner, pipeline, dag, &mut ready, &mut statuses).await?;

    // Subscribed only now: the topic blocks publishers for its slowest subscriber, so the
    // resume news above must not wait for a subscriber that is not reading yet.
    let mut events = runner.progress.subscribe();
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| tokio::spawn(Arc::clone(&runner).work()))
        .collect();
    let mut running = HashMap::new();
    queue_runnable(&runner, pipeline, dag, &mut running).await?;
    let mut failed = false;
    while !running.is_empty() {
        let Progress::Finished { step, result } = events.recv().await? else {
            continue;
        };
        let job = running
            .remove(&step)
            .with_context(|| format!("news of {step}, which is not running"))?;
        let node = dag.index_of(&step).expect("jobs are only made for steps");
        match &result.outcome {
            Ok(_) => {
                runner.store.complete(job.id, job.attempt).await?;
                let released: Vec<NodeIndex> = ready.complete(node)?.to_vec();
                // After a failure, only the steps already running finish: like `make`.
                if !failed {
                    let jobs = released.iter().map(|&n| new_job(pipeline, n)).collect();
                    runner.store.insert_batch(jobs).await?;
                    queue_runnable(&runner, pipeline, dag, &mut running).await?;
                }
            }
            Err(error) => {
                // Failed, not given up: the next run of the pipeline tries the step again.
                let now = SystemTime::now();
                runner.store.fail(job.id, job.attempt, error, now).await?;
                failed = true;
            }
        }
        statuses[node.index()] = Status::Ran(result);
    }
    runner.queue.close();
    for worker in workers {
        worker.await?;
    }
    if !failed && !ready.is_finished() {
        bail!("steps are ready but the store has no runnable job for them");
    }
    Ok(statuses)
}

/// Marks the steps that succeeded in earlier runs as done, makes the steps a killed run left
/// running runnable again, and makes a job for each ready step that has none yet.
async fn resume(
    runner: &Runner,
    pipeline: &Pipeline,
    dag: &Dag,
    ready: &mut ReadySet<'_>,
    statuses: &mut [Status],
) -> anyhow::Result<()> {
    let mut jobs = jobs_of(&runner.store, &pipeline.name).await?;
    // redb locks its file, so no other process is running this pipeline: a job still `Running`
    // was left by a run that was killed. Its attempt failed; the step runs again now.
    let mut interrupted = Vec::new();
    for job in jobs.values_mut() {
        if job.state == JobState::Running {
            let error = "interrupted: the run that held it was killed";
            let now = SystemTime::now();
            *job = runner.store.fail(job.id, job.attempt, error, now).await?;
            interrupted.push(job.name.clone());
        }
    }
    interrupted.sort();
    // A step whose command was edited since its job was made (the usual fix after a failure)
    // starts over: its old job is cancelled, and a new one with the new command and a fresh
    // count of runs is made below, when the step is ready.
    for (node, step) in pipeline.steps.iter().enumerate() {
        if let Some(job) = jobs.get(step.name.as_str())
            && job.state != JobState::Succeeded
            && *job.payload != *step.command.as_bytes()
        {
            runner.store.cancel(job.id).await?;
            jobs.remove(step.name.as_str());
            println!(
                "{}: the command changed; it starts over",
                dag.name(NodeIndex::new(node))
            );
        }
    }
    let mut earlier = Vec::new();
    // In dependency order, so each step's dependencies are marked done before it.
    for &node in dag.topo_order() {
        let Some(job) = jobs.get(dag.name(node)) else {
            continue;
        };
        match job.state {
            JobState::Succeeded => {
                ready.complete(node).map_err(|_| {
                    anyhow!(
                        "{} succeeded before its dependencies did: the pipeline file changed",
                        job.name
                    )
                })?;
                statuses[node.index()] = Status::Earlier;
                earlier.push(job.name.clone());
                runner
                    .announce(Progress::Resumed {
                        step: job.name.clone(),
                    })
                    .await;
            }
            JobState::Discarded => bail!(
                "{} failed in {} runs, the last with: {}; delete the state directory to try again",
                job.name,
                job.attempt,
                job.last_error.as_deref().unwrap_or("no error recorded")
            ),
            _ => {}
        }
    }
    if !earlier.is_empty() || !interrupted.is_empty() {
        let mut news = format!(
            "resuming {}: {} of {} steps succeeded earlier",
            pipeline.name,
            earlier.len(),
            dag.len()
        );
        if !earlier.is_empty() {
            news += &format!(" ({})", earlier.join(", "));
        }
        if !interrupted.is_empty() {
            news += &format!("; interrupted, to run again: {}", interrupted.join(", "));
        }
        println!("{news}");
    }
    let fresh = ready
        .ready()
        .filter(|&node| {
            !jobs
                .get(dag.name(node))
                .is_some_and(|job| job.state.is_claimable())
        })
        .map(|node| new_job(pipeline, node))
        .collect();
    runner.store.insert_batch(fresh).await?;
    Ok(())
}

/// The pipeline's jobs by step name. A step gets its one job when it first becomes ready.
async fn jobs_of(store: &RedbStore, tenant: &str) -> Result<HashMap<Arc<str>, Job>, StoreError> {
    let filter = ListFilter {
        tenant: Some(tenant.to_owned()),
        ..ListFilter::default()
    };
    let mut jobs = HashMap::new();
    let mut cursor = None;
    loop {
        let page = store.list(filter.clone(), cursor, 256).await?;
        jobs.extend(page.jobs.into_iter().map(|job| (job.name.clone(), job)));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(jobs),
        }
    }
}

fn new_job(pipeline: &Pipeline, node: NodeIndex) -> NewJob {
    let step = &pipeline.steps[node.index()];
    NewJob::new(step.name.as_str(), step.command.as_bytes())
        .tenant(pipeline.name.as_str())
        .max_attempts(RUNS_PER_STEP)
}

/// Claims every runnable job and queues it for the workers. A job exists only once its step is
/// ready, and nothing else claims from this store, so these are exactly the ready steps that
/// are not running yet.
async fn queue_runnable(
    runner: &Runner,
    pipeline: &Pipeline,
    dag: &Dag,
    running: &mut HashMap<Arc<str>, Job>,
) -> anyhow::Result<()> {
    for job in runner.store.claim("pipeline", dag.len(), LEASE).await? {
        if job.tenant.as_deref() != Some(pipeline.name.as_str()) {
            bail!(
                "the state directory holds jobs of pipeline {:?}: give each pipeline its own --state",
                job.tenant.as_deref().unwrap_or("(none)")
            );
        }
        let node = dag
            .index_of(&job.name)
            .with_context(|| format!("job {} is for no step of this pipeline", job.name))?;
        let priority = pipeline.steps[node.index()].priority.into();
        running.insert(job.name.clone(), job.clone());
        runner
            .queue
            .push(job, priority)
            .map_err(|_| anyhow!("the queue closed while steps were ready"))?;
    }
    Ok(())
}
