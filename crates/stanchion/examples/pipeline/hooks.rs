//! The hooks every step passes through: `before_step` may refuse or adjust a step before its
//! command runs, `after_step` sees how it went. Register your own here.

use std::path::Path;
use std::sync::Arc;

use stanchion::hooks::{
    Action, HookExecutor, HookOptions, HookRegistry, PointConfig, RegisterError,
};
use stanchion::ring::Level;
use stanchion::store::Job;

use crate::Log;
use crate::progress::{StepResult, tries_text};

pub(crate) const BEFORE_STEP: &str = "before_step";
pub(crate) const AFTER_STEP: &str = "after_step";

/// What the hooks see and may change.
#[derive(Debug, Clone)]
pub(crate) struct StepContext {
    pub(crate) step: Arc<str>,
    pub(crate) command: String,
    /// Set for the command, on top of the pipeline's own environment.
    pub(crate) env: Vec<(String, String)>,
    /// `None` before the step; its result after.
    pub(crate) result: Option<StepResult>,
}

impl StepContext {
    /// The context of the job's step before it runs: the command is the job's payload.
    pub(crate) fn of(job: &Job) -> Self {
        Self {
            step: job.name.clone(),
            command: String::from_utf8_lossy(&job.payload).into_owned(),
            env: Vec::new(),
            result: None,
        }
    }
}

pub(crate) fn executor(state: &Path, log: Log) -> Result<HookExecutor<StepContext>, RegisterError> {
    let registry = HookRegistry::new();

    // A validator refuses the input before any hook runs: an empty command is a typo in the
    // file, and `sh -c ""` would "succeed" without doing anything.
    registry.configure_point(
        BEFORE_STEP,
        PointConfig::new().validator(|ctx: &StepContext| {
            if ctx.command.trim().is_empty() {
                Err("the command is empty".to_owned())
            } else {
                Ok(())
            }
        }),
    );

    // Commands find the state directory and their own name in their environment, so they can
    // leave markers and artifacts there (the flaky step of build.toml does).
    let state = state.display().to_string();
    registry.register_fn(
        BEFORE_STEP,
        move |ctx: &StepContext| {
            let mut ctx = ctx.clone();
            ctx.env.push(("PIPELINE_STATE".into(), state.clone()));
            ctx.env.push(("PIPELINE_STEP".into(), ctx.step.to_string()));
            Ok(Action::Modify(ctx))
        },
        HookOptions::new("environment"),
    )?;

    // One line per step in the log, easy to grep: what ran, how long it took, how it ended.
    registry.register_fn(
        AFTER_STEP,
        move |ctx: &StepContext| {
            if let Some(result) = &ctx.result {
                let (level, verdict) = match &result.outcome {
                    Ok(tries) => (Level::Info, format!("succeeded, {}", tries_text(*tries))),
                    Err(error) => (Level::Error, format!("failed: {error}")),
                };
                log.line(
                    level,
                    &ctx.step,
                    format_args!("summary: {verdict} ({:.2?})", result.elapsed),
                );
            }
            Ok(Action::Continue)
        },
        HookOptions::new("summary"),
    )?;

    Ok(HookExecutor::new(registry))
}
