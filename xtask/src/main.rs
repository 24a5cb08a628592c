//! `cargo xtask`: the one entry point for the workspace's chores.
//!
//! - `cargo xtask ci [--quick]`: exactly what CI runs.
//! - `cargo xtask bench [--quick | --smoke] [--filter PATTERN] [--rounds N]`: runs the criterion
//!   benches (N times over), prints ours beside each peer, writes `target/bench/report.json` and
//!   `docs/benchmarks.md`.
//! - `cargo xtask bench-check [--baseline PATH] [--update]`: compares the last report's ratios with
//!   the baseline and fails on a regression.

mod bench;
mod check;
mod ci;
mod process;
mod report;

use anyhow::{Context, Result, bail};
use std::path::PathBuf;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  ci [--quick]                         run what CI runs: fmt, clippy, tests, loom, docs, bench smoke,
                                       PostgreSQL suites (--quick skips loom and the bench smoke
                                       locally; it is refused under CI=true)
  bench [--quick|--smoke|--from-report] [--filter PATTERN] [--rounds N]
                                       run the benches, print ours vs peers, write
                                       target/bench/report.json and docs/benchmarks.md
                                       (--quick: short measurements; --smoke: each bench once, no report;
                                       --from-report: render the last report again, running nothing;
                                       --rounds N: N passes, each ratio the median of the passes')
  bench-check [--baseline PATH] [--report PATH] [--update]
                                       compare the last report's speedups with the baseline
                                       (default benches/baseline.json); --update rewrites it";

fn main() {
    if let Err(error) = run() {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let mut args = Args::new(std::env::args().skip(1));
    let command = args.next().unwrap_or_default();
    match command.as_str() {
        "ci" => {
            let quick = args.flag("--quick");
            args.finish()?;
            ci::run(quick)
        }
        "bench" => {
            let options = bench::Options {
                quick: args.flag("--quick"),
                smoke: args.flag("--smoke"),
                from_report: args.flag("--from-report"),
                filter: args.value("--filter")?,
                rounds: match args.value("--rounds")? {
                    Some(n) => n
                        .parse()
                        .with_context(|| format!("--rounds takes a count, not `{n}`"))?,
                    None => 1,
                },
            };
            args.finish()?;
            bench::run(&options)
        }
        "bench-check" => {
            let root = workspace_root();
            let baseline = args.value("--baseline")?.map(PathBuf::from);
            let report = args.value("--report")?.map(PathBuf::from);
            let update = args.flag("--update");
            args.finish()?;
            check::run(
                &report.unwrap_or_else(|| report::report_path(&root)),
                &baseline.unwrap_or_else(|| root.join("benches/baseline.json")),
                update,
            )
        }
        "" | "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

/// The workspace root: the parent of this crate's folder.
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// A tiny argument reader: flags and `--name value` options, every argument accounted for.
struct Args {
    rest: Vec<String>,
}

impl Args {
    fn new(args: impl Iterator<Item = String>) -> Self {
        Self {
            rest: args.collect(),
        }
    }

    fn next(&mut self) -> Option<String> {
        (!self.rest.is_empty()).then(|| self.rest.remove(0))
    }

    fn flag(&mut self, name: &str) -> bool {
        let before = self.rest.len();
        self.rest.retain(|arg| arg != name);
        self.rest.len() != before
    }

    fn value(&mut self, name: &str) -> Result<Option<String>> {
        let Some(at) = self.rest.iter().position(|arg| arg == name) else {
            return Ok(None);
        };
        self.rest.remove(at);
        (at < self.rest.len())
            .then(|| self.rest.remove(at))
            .map(Some)
            .with_context(|| format!("{name} needs a value"))
    }

    fn finish(self) -> Result<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            bail!("unexpected arguments: {}\n\n{USAGE}", self.rest.join(" "))
        }
    }
}
