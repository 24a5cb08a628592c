//! What happens to steps, as events on the bus, and the progress bar that draws them.

use std::sync::Arc;
use std::time::Duration;

use stanchion::bus::Subscriber;

/// One step's news. Workers publish; the scheduler and the progress bar each subscribe and see
/// every event in order.
#[derive(Debug, Clone)]
pub(crate) enum Progress {
    /// It succeeded in an earlier run and will not run again.
    Resumed { step: Arc<str> },
    /// A worker took it; `run` counts the runs of this step across processes, from 1.
    Started { step: Arc<str>, run: u32 },
    /// One try of its command failed; the retry policy decides whether another follows.
    AttemptFailed {
        step: Arc<str>,
        attempt: u32,
        error: String,
    },
    /// It is over, and the store knows.
    Finished { step: Arc<str>, result: StepResult },
}

#[derive(Debug, Clone)]
pub(crate) struct StepResult {
    pub(crate) elapsed: Duration,
    /// The tries its command took, or why it failed.
    pub(crate) outcome: Result<u32, String>,
}

/// Draws `[#####.....] 3/6 test succeeded in 0.21s` on stderr for every event until the topic
/// closes.
pub(crate) async fn render(mut events: Subscriber<Progress>, total: usize) {
    let mut done = 0;
    // The topic blocks publishers rather than dropping events, so the only error is its end.
    while let Ok(event) = events.recv().await {
        let news = match event {
            Progress::Resumed { step } => {
                done += 1;
                format!("{step} succeeded in an earlier run")
            }
            Progress::Started { step, run: 1 } => format!("{step} started"),
            Progress::Started { step, run } => format!("{step} started again (run {run})"),
            Progress::AttemptFailed {
                step,
                attempt,
                error,
            } => format!("{step} try {attempt} failed: {error}"),
            Progress::Finished { step, result } => match result.outcome {
                Ok(tries) => {
                    done += 1;
                    format!(
                        "{step} succeeded in {:.2?}, {}",
                        result.elapsed,
                        tries_text(tries)
                    )
                }
                Err(error) => format!("{step} FAILED: {error}"),
            },
        };
        eprintln!("{} {news}", bar(done, total));
    }
}

/// "1 try", "2 tries".
pub(crate) fn tries_text(tries: u32) -> String {
    match tries {
        1 => "1 try".to_owned(),
        n => format!("{n} tries"),
    }
}

fn bar(done: usize, total: usize) -> String {
    const WIDTH: usize = 20;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    format!(
        "[{}{}] {done}/{total}",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled)
    )
}
