//! `cargo xtask bench`: runs the criterion benches and turns their results into the report.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime};

use crate::process::{cargo, command_line, step};
use crate::report::{self, Report};

/// Criterion flags for `--quick`: short but still statistical measurements.
const QUICK: [&str; 6] = [
    "--warm-up-time",
    "0.5",
    "--measurement-time",
    "1",
    "--sample-size",
    "10",
];

#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) quick: bool,
    pub(crate) smoke: bool,
    /// Render the last report again instead of running the benches.
    pub(crate) from_report: bool,
    pub(crate) filter: Option<String>,
    /// How many passes to make over the benches ([`report::combine`]).
    pub(crate) rounds: usize,
}

pub(crate) fn run(options: &Options) -> Result<()> {
    let root = crate::workspace_root();
    if options.rounds == 0 {
        bail!("--rounds 0 would measure nothing: give at least 1");
    }
    if options.rounds > 1 && (options.smoke || options.from_report) {
        bail!("--rounds is for measuring runs: --smoke and --from-report measure nothing");
    }
    if options.smoke {
        if options.quick {
            bail!(
                "--smoke and --quick do not go together: --smoke runs each bench once and measures nothing"
            );
        }
        return smoke(&root, options.filter.as_deref());
    }
    if options.from_report {
        let path = report::report_path(&root);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "no report at {}: run `cargo xtask bench` first",
                path.display()
            )
        })?;
        let report: Report =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        report::print_table(&report);
        return write_docs(&root, &report);
    }

    let ids = list(&root, options.filter.as_deref())?;
    if ids.is_empty() {
        eprintln!(
            "no benchmarks{} yet: nothing to run",
            match &options.filter {
                Some(filter) => format!(" match `{filter}`"),
                None => String::new(),
            }
        );
    }
    let mut rounds = Vec::new();
    for round in 1..=options.rounds {
        let started_at = SystemTime::now();
        if !ids.is_empty() {
            measure(&root, options, &ids, round)?;
        }
        rounds.push(report::collect(&root.join("target/criterion"), started_at)?);
    }

    let (measurements, comparisons) = report::combine(&rounds);
    let report = Report {
        machine: report::machine(&root),
        mode: if options.quick { "quick" } else { "full" }.to_owned(),
        filter: options.filter.clone(),
        rounds: options.rounds,
        measurements,
        comparisons,
    };
    report::print_table(&report);

    let json = report::report_path(&root);
    std::fs::create_dir_all(json.parent().expect("report path has a parent"))?;
    std::fs::write(&json, serde_json::to_string_pretty(&report)?)?;
    println!("\nwrote {}", json.display());
    if options.filter.is_some() {
        println!(
            "a --filter run leaves docs/benchmarks.md as it was: run without --filter to regenerate it"
        );
        return Ok(());
    }
    write_docs(&root, &report)
}

/// `docs/benchmarks.md` and its chart, from a whole (unfiltered) report.
fn write_docs(root: &Path, report: &Report) -> Result<()> {
    if report.filter.is_some() {
        bail!(
            "the last report comes from a --filter run; run the whole `cargo xtask bench` to regenerate the docs"
        );
    }
    let chart = (!report.comparisons.is_empty()).then_some("benchmarks.svg");
    if chart.is_some() {
        report::chart_svg(&report.comparisons, &root.join("docs/benchmarks.svg"))?;
    }
    std::fs::write(
        root.join("docs/benchmarks.md"),
        report::markdown(report, chart, &sections(root)),
    )?;
    println!(
        "wrote docs/benchmarks.md{}",
        if chart.is_some() {
            " and docs/benchmarks.svg"
        } else {
            ""
        }
    );
    Ok(())
}

/// Every bench run once, measuring nothing: proves the benches compile and run (CI does this).
pub(crate) fn smoke(root: &Path, filter: Option<&str>) -> Result<()> {
    let mut command = bench_command(root);
    command.arg("--test");
    command.args(filter);
    step("bench smoke run (each bench once)", &mut command)
}

fn bench_command(root: &Path) -> Command {
    let mut command = cargo(root);
    command
        .args(["bench", "--locked", "-p", "stanchion-benches", "--"])
        .env("CRITERION_HOME", root.join("target/criterion"));
    command
}

/// The ids of the benchmarks a run would measure; this also builds the benches, with cargo's
/// progress shown.
fn list(root: &Path, filter: Option<&str>) -> Result<Vec<String>> {
    let mut command = bench_command(root);
    command.arg("--list").args(filter).stderr(Stdio::inherit());
    eprintln!("building the benches: {}", command_line(&command));
    let output = command
        .output()
        .with_context(|| format!("running {}", command_line(&command)))?;
    if !output.status.success() {
        bail!(
            "building or listing the benches failed; reproduce with:\n    {}",
            command_line(&command)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_suffix(": benchmark"))
        .map(str::to_owned)
        .collect())
}

/// Runs the benches, printing one progress line per finished benchmark instead of criterion's
/// chatter.
fn measure(root: &Path, options: &Options, ids: &[String], round: usize) -> Result<()> {
    let total = ids.len();
    let mut command = bench_command(root);
    if options.quick {
        command.args(QUICK);
    }
    command
        .args(&options.filter)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let of_rounds = if options.rounds > 1 {
        format!(" (round {round} of {})", options.rounds)
    } else {
        String::new()
    };
    eprintln!(
        "running {total} benchmarks{of_rounds}: {}",
        command_line(&command)
    );
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("running {}", command_line(&command)))?;

    // Criterion's warnings (too few samples and the like) go to stderr; keep them for a failure.
    let stderr = child.stderr.take().expect("stderr is piped");
    let stderr = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });

    // Criterion prints `<id>` then `time: [low median high]`, on one line or on two when the id is
    // long, and then a `change:` block with another `time:` line that is not a measurement.
    let mut current: Option<&str> = None;
    let mut done = 0;
    for line in BufReader::new(child.stdout.take().expect("stdout is piped")).lines() {
        let line = line?;
        let (head, estimates) = line.split_once("time:").unwrap_or((&line, ""));
        if let Some(id) = ids.iter().find(|id| head.trim() == id.as_str()) {
            current = Some(id);
        }
        if let (Some(id), false) = (current, estimates.is_empty()) {
            let words: Vec<&str> = estimates
                .trim()
                .trim_matches(['[', ']'])
                .split_whitespace()
                .collect();
            let median = words.get(2..4).map(|w| w.join(" ")).unwrap_or_default();
            done += 1;
            eprintln!(
                "[{done:>3}/{total}] {id:<50} {median:>12}   ({:.0?})",
                started.elapsed()
            );
            current = None;
        }
    }
    let status = child.wait()?;
    let stderr = stderr.join().unwrap_or_default();
    if !status.success() {
        bail!(
            "the benches failed ({status}):\n{}\nreproduce with:\n    {}",
            stderr.join("\n"),
            command_line(&command)
        );
    }
    Ok(())
}

/// The extra sections some benches write to `target/bench/sections/*.md` (tables criterion does not
/// produce, such as hit ratios and latency percentiles), in file-name order.
fn sections(root: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root.join("target/bench/sections")) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    paths.sort();
    paths
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .collect()
}
