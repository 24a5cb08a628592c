//! The benchmark report: measurements read back from criterion, the ours-vs-peer comparisons, and
//! the three ways they are shown (terminal table, `report.json`, `docs/benchmarks.md` with a chart).

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The function id prefix that marks our implementation (see `benches/src/lib.rs`).
const OURS: &str = "stanchion";

/// Where `bench` writes and `bench-check` reads the last report.
pub(crate) fn report_path(root: &Path) -> PathBuf {
    root.join("target/bench/report.json")
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Report {
    pub(crate) machine: Machine,
    /// `full` or `quick`.
    pub(crate) mode: String,
    /// The `--filter` the run was limited to, if any.
    pub(crate) filter: Option<String>,
    /// How many passes over the benches the figures combine ([`combine`]); 1 for reports written
    /// before there could be more.
    #[serde(default = "one_round")]
    pub(crate) rounds: usize,
    pub(crate) measurements: Vec<Measurement>,
    pub(crate) comparisons: Vec<Comparison>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Machine {
    pub(crate) cpu: String,
    pub(crate) cores: usize,
    pub(crate) rustc: String,
    pub(crate) date: String,
    pub(crate) git_revision: String,
    /// [`round_trip_ns`] when the report was made; absent from reports written before it was kept.
    #[serde(default)]
    pub(crate) round_trip_ns: Option<f64>,
    /// The kernel's release and the scheduler parameters it was booted with ([`kernel`]); absent
    /// from reports written before it was kept.
    #[serde(default)]
    pub(crate) kernel: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Measurement {
    /// Criterion's full id: `<crate>/<workload>/<implementation>[/<parameter>]`.
    pub(crate) id: String,
    pub(crate) krate: String,
    /// The workload within the crate, parameter included: `zipf_1.0/2`.
    pub(crate) workload: String,
    pub(crate) implementation: String,
    pub(crate) ours: bool,
    /// Median time of one iteration.
    pub(crate) median_ns: f64,
    pub(crate) throughput: Option<Throughput>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Throughput {
    /// `elements` or `bytes`.
    pub(crate) unit: String,
    pub(crate) per_iteration: u64,
    pub(crate) per_second: f64,
}

/// One of ours against one peer on the same workload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Comparison {
    /// `<crate>/<workload>`.
    pub(crate) workload: String,
    pub(crate) ours: String,
    pub(crate) peer: String,
    pub(crate) ours_median_ns: f64,
    pub(crate) peer_median_ns: f64,
    /// Peer time over our time: above 1, ours is that many times faster. Over several rounds, the
    /// median of `rounds`.
    pub(crate) speedup: f64,
    /// The speedup measured in each round, in the order they ran; empty for a run of one round.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) rounds: Vec<f64>,
}

fn one_round() -> usize {
    1
}

impl Measurement {
    fn key(&self) -> String {
        format!("{}/{}", self.krate, self.workload)
    }
}

/// Reads every measurement criterion wrote under `criterion_dir` at or after `since`.
///
/// Criterion keeps results of earlier runs; the time filter keeps a `--filter` run from reporting
/// stale numbers for benches it did not run.
pub(crate) fn collect(criterion_dir: &Path, since: SystemTime) -> Result<Vec<Measurement>> {
    let mut found = Vec::new();
    let mut pending = vec![criterion_dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "new")
                    && path.join("benchmark.json").is_file()
                {
                    let estimates = path.join("estimates.json");
                    let fresh = std::fs::metadata(&estimates)
                        .and_then(|m| m.modified())
                        .is_ok_and(|modified| modified >= since);
                    if fresh {
                        found.push(read_measurement(&path.join("benchmark.json"), &estimates)?);
                    }
                } else {
                    pending.push(path);
                }
            }
        }
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found)
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn read_measurement(benchmark: &Path, estimates: &Path) -> Result<Measurement> {
    let info = read_json(benchmark)?;
    let median_ns = read_json(estimates)?["median"]["point_estimate"]
        .as_f64()
        .with_context(|| format!("no median in {}", estimates.display()))?;
    let text = |key: &str| info[key].as_str().map(str::to_owned);
    let group =
        text("group_id").with_context(|| format!("no group_id in {}", benchmark.display()))?;
    let implementation = text("function_id").unwrap_or_else(|| OURS.to_owned());
    let (krate, workload) = group.split_once('/').unwrap_or(("other", &group));
    let workload = match text("value_str") {
        Some(parameter) => format!("{workload}/{parameter}"),
        None => workload.to_owned(),
    };
    let throughput = throughput(&info["throughput"], median_ns);
    Ok(Measurement {
        id: text("full_id").unwrap_or_else(|| format!("{group}/{implementation}")),
        krate: krate.to_owned(),
        workload,
        ours: implementation.starts_with(OURS),
        implementation,
        median_ns,
        throughput,
    })
}

/// Criterion stores throughput as `{"Elements": n}`, `{"Bytes": n}`, `{"BytesDecimal": n}` or
/// `{"ElementsAndBytes": {"elements": n, "bytes": m}}`; elements win where both are given.
fn throughput(value: &Value, median_ns: f64) -> Option<Throughput> {
    let object = value.as_object()?;
    let (unit, per_iteration) = if let Some(n) = object.get("Elements").and_then(Value::as_u64) {
        ("elements", n)
    } else if let Some(n) = object
        .get("ElementsAndBytes")
        .and_then(|v| v["elements"].as_u64())
    {
        ("elements", n)
    } else {
        let n = object
            .get("Bytes")
            .or_else(|| object.get("BytesDecimal"))
            .and_then(Value::as_u64)?;
        ("bytes", n)
    };
    Some(Throughput {
        unit: unit.to_owned(),
        per_iteration,
        per_second: per_iteration as f64 * 1e9 / median_ns,
    })
}

/// Every (ours, peer) pair measured on the same workload.
pub(crate) fn compare(measurements: &[Measurement]) -> Vec<Comparison> {
    let mut by_workload: BTreeMap<String, Vec<&Measurement>> = BTreeMap::new();
    for m in measurements {
        by_workload.entry(m.key()).or_default().push(m);
    }
    let mut comparisons = Vec::new();
    for (workload, runs) in by_workload {
        for ours in runs.iter().filter(|m| m.ours) {
            for peer in runs.iter().filter(|m| !m.ours) {
                comparisons.push(Comparison {
                    workload: workload.clone(),
                    ours: ours.implementation.clone(),
                    peer: peer.implementation.clone(),
                    ours_median_ns: ours.median_ns,
                    peer_median_ns: peer.median_ns,
                    speedup: peer.median_ns / ours.median_ns,
                    rounds: Vec::new(),
                });
            }
        }
    }
    comparisons
}

/// The measurements of several passes over the same benches, as one run's.
///
/// A measurement's time is the median of its rounds' times. A comparison's speedup is the median of
/// the speedups measured within each round, where ours and the peer ran seconds apart, not the ratio
/// of the two medians: on a VM whose vCPUs the host moves about, or whose kernel packs threads onto
/// fewer vCPUs ([`kernel`]), a row can run at one speed for minutes and at another for the next,
/// and a ratio taken across rounds would compare the two.
pub(crate) fn combine(rounds: &[Vec<Measurement>]) -> (Vec<Measurement>, Vec<Comparison>) {
    let mut times: BTreeMap<&str, (&Measurement, Vec<f64>)> = BTreeMap::new();
    for m in rounds.iter().flatten() {
        times
            .entry(&m.id)
            .or_insert((m, Vec::new()))
            .1
            .push(m.median_ns);
    }
    let measurements = times
        .into_values()
        .map(|(m, times)| {
            let median_ns = median(&times);
            Measurement {
                median_ns,
                throughput: m.throughput.as_ref().map(|t| Throughput {
                    per_second: t.per_iteration as f64 * 1e9 / median_ns,
                    ..t.clone()
                }),
                ..m.clone()
            }
        })
        .collect();
    let mut speedups: BTreeMap<(String, String, String), Vec<Comparison>> = BTreeMap::new();
    for c in rounds.iter().flat_map(|round| compare(round)) {
        speedups
            .entry((c.workload.clone(), c.ours.clone(), c.peer.clone()))
            .or_default()
            .push(c);
    }
    let comparisons = speedups
        .into_values()
        .map(|runs| {
            let of = |f: fn(&Comparison) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
            let speedups: Vec<f64> = runs.iter().map(|c| c.speedup).collect();
            Comparison {
                ours_median_ns: of(|c| c.ours_median_ns),
                peer_median_ns: of(|c| c.peer_median_ns),
                speedup: median(&speedups),
                // One speedup is no range.
                rounds: if speedups.len() > 1 {
                    speedups
                } else {
                    Vec::new()
                },
                ..runs[0].clone()
            }
        })
        .collect();
    (measurements, comparisons)
}

pub(crate) fn machine(root: &Path) -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .current_dir(root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
    };
    let revision = git(&["rev-parse", "--short=12", "HEAD"])
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let dirty = git(&["status", "--porcelain"]).is_some_and(|o| !o.stdout.is_empty());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Machine {
        cpu,
        cores,
        rustc: crate::process::first_line("rustc", &["--version"])
            .unwrap_or_else(|| "unknown".to_owned()),
        date: crate::process::first_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
            .unwrap_or_else(|| "unknown".to_owned()),
        git_revision: if dirty {
            format!("{revision} (with uncommitted changes)")
        } else {
            revision
        },
        round_trip_ns: round_trip_ns(cores),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|release| {
                kernel(
                    release.trim(),
                    &std::fs::read_to_string("/proc/cmdline").unwrap_or_default(),
                )
            }),
    }
}

/// `release`, and the parameters of the kernel's command line `cmdline` that decide where threads
/// run and how fast an idle core wakes: `6.18.0 (sched_vcpu_pack=15)`. The CI VM's kernel is
/// booted with `sched_vcpu_pack=15`, which is not a mainline parameter: by its name and its code's
/// place (`vcpu_pack_room`, beside `cpu_util` in the fair scheduler) it packs threads onto fewer
/// vCPUs, as the ring's two-producer rows show happening (docs/ring.md). Figures from kernels
/// that place threads differently are not comparable.
fn kernel(release: &str, cmdline: &str) -> String {
    const SCHEDULING: [&str; 7] = [
        "sched",
        "isolcpus",
        "nohz",
        "rcu_nocbs",
        "idle",
        "cpuidle",
        "haltpoll",
    ];
    let parameters: Vec<&str> = cmdline
        .split_whitespace()
        // What follows `--` is for init, not the kernel.
        .take_while(|word| *word != "--")
        .filter(|word| SCHEDULING.iter().any(|prefix| word.starts_with(prefix)))
        .collect();
    if parameters.is_empty() {
        release.to_owned()
    } else {
        format!("{release} ({})", parameters.join(" "))
    }
}

/// The median over five rounds of the time two threads take to hand a cache line to each other
/// and back, or `None` with one of the machine's `cores`. Every cross-thread row pays it, and on a VM it depends on
/// where the host put the vCPUs: the CI VM measured 400 to 500 ns on 2026-11-25, when the
/// queue's bounded rows ran up to 2.6x faster than in the run the day before and some of its
/// unbounded rows five times slower (docs/queue.md). The report records it so that runs can be
/// told apart.
fn round_trip_ns(cores: usize) -> Option<f64> {
    use std::sync::atomic::{AtomicU64, Ordering};
    const TRIPS: u64 = 20_000;
    if cores < 2 {
        return None;
    }
    let rounds: Vec<f64> = (0..5)
        .map(|_| {
            let turn = AtomicU64::new(0);
            let wait_for = |value: u64| {
                // Yields now and then, in case the other thread shares this core.
                let mut spins = 0u32;
                while turn.load(Ordering::Acquire) != value {
                    spins = spins.wrapping_add(1);
                    if spins.is_multiple_of(1024) {
                        std::thread::yield_now();
                    } else {
                        std::hint::spin_loop();
                    }
                }
            };
            let start = std::time::Instant::now();
            std::thread::scope(|s| {
                s.spawn(|| {
                    for trip in 0..TRIPS {
                        wait_for(2 * trip + 1);
                        turn.store(2 * trip + 2, Ordering::Release);
                    }
                });
                for trip in 0..TRIPS {
                    turn.store(2 * trip + 1, Ordering::Release);
                    wait_for(2 * trip + 2);
                }
            });
            start.elapsed().as_nanos() as f64 / TRIPS as f64
        })
        .collect();
    Some(median(&rounds))
}

/// The median of `values` (the mean of the middle two when their number is even); `values` must
/// not be empty.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}

pub(crate) fn format_time(ns: f64) -> String {
    match ns {
        ns if ns < 1e3 => format!("{ns:.1} ns"),
        ns if ns < 1e6 => format!("{:.2} µs", ns / 1e3),
        ns if ns < 1e9 => format!("{:.2} ms", ns / 1e6),
        ns => format!("{:.2} s", ns / 1e9),
    }
}

fn format_rate(throughput: &Option<Throughput>) -> String {
    let Some(t) = throughput else {
        return "-".to_owned();
    };
    let unit = if t.unit == "bytes" { "B/s" } else { "/s" };
    match t.per_second {
        r if r >= 1e9 => format!("{:.2} G{unit}", r / 1e9),
        r if r >= 1e6 => format!("{:.2} M{unit}", r / 1e6),
        r if r >= 1e3 => format!("{:.1} K{unit}", r / 1e3),
        r => format!("{r:.0} {unit}"),
    }
}

/// `2.50x`, and over several rounds the range of the rounds' speedups after it: `2.50x (1.99–5.60)`.
fn format_speedup(c: &Comparison) -> String {
    let speedup = format!("{:.2}x", c.speedup);
    match (
        c.rounds.iter().copied().reduce(f64::min),
        c.rounds.iter().copied().reduce(f64::max),
    ) {
        (Some(least), Some(most)) => format!("{speedup} ({least:.2}–{most:.2})"),
        _ => speedup,
    }
}

/// Rows of (workload, implementation, median, throughput, speedup vs ours-or-blank), one crate at a time.
fn rows_by_crate(report: &Report) -> BTreeMap<&str, Vec<[String; 5]>> {
    let mut crates: BTreeMap<&str, Vec<[String; 5]>> = BTreeMap::new();
    let mut measurements: Vec<&Measurement> = report.measurements.iter().collect();
    // Group by workload; ours first within it.
    measurements.sort_by(|a, b| {
        (a.key(), !a.ours, &a.implementation).cmp(&(b.key(), !b.ours, &b.implementation))
    });
    for m in measurements {
        let speedup = if m.ours {
            String::new()
        } else {
            // One ratio for each of ours, in the order ours' rows are listed (by name), which the
            // reader matches them up by; the report's comparisons come in the order criterion's
            // directories were read.
            let mut ratios: Vec<&Comparison> = report
                .comparisons
                .iter()
                .filter(|c| c.workload == m.key() && c.peer == m.implementation)
                .collect();
            ratios.sort_by(|a, b| a.ours.cmp(&b.ours));
            ratios
                .iter()
                .map(|c| format_speedup(c))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        crates.entry(&m.krate).or_default().push([
            m.workload.clone(),
            m.implementation.clone(),
            format_time(m.median_ns),
            format_rate(&m.throughput),
            speedup,
        ]);
    }
    crates
}

const HEADERS: [&str; 5] = [
    "workload",
    "implementation",
    "median",
    "throughput",
    "ours faster by",
];

/// The terminal table: per crate, each workload's implementations with ours first.
pub(crate) fn print_table(report: &Report) {
    for (krate, rows) in rows_by_crate(report) {
        let mut widths = HEADERS.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        println!("\n{krate}");
        let line = |cells: [&str; 5]| {
            let mut out = String::from(" ");
            for (cell, width) in cells.iter().zip(widths) {
                let _ = write!(out, " {cell:<width$} ");
            }
            println!("{}", out.trim_end());
        };
        line(HEADERS);
        for row in &rows {
            line(row.each_ref().map(String::as_str));
        }
    }
}

/// `docs/benchmarks.md`: the machine, one table per crate, the chart, the sections benches wrote
/// themselves (each starts with its `##` heading) and the inputs' citations.
pub(crate) fn markdown(report: &Report, chart: Option<&str>, sections: &[String]) -> String {
    let m = &report.machine;
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let mut flags = String::new();
    if report.mode == "quick" {
        flags.push_str(" --quick");
    }
    if report.rounds > 1 {
        let _ = write!(flags, " --rounds {}", report.rounds);
    }
    let _ = writeln!(
        out,
        "Generated by `cargo xtask bench{flags}`; do not edit by hand. Each workload runs ours and every peer \
         in the same run. *Ours faster by* is the peer's median time over ours: above 1 ours is faster; \
         where a workload has several rows of ours, a peer's row gives one ratio for each, in the \
         order those rows are listed. `cargo xtask bench-check` compares these ratios with `benches/baseline.json`.\n"
    );
    let _ = writeln!(out, "| machine | |\n|---|---|");
    let _ = writeln!(out, "| CPU | {} ({} cores) |", m.cpu, m.cores);
    let _ = writeln!(out, "| toolchain | {} |", m.rustc);
    let _ = writeln!(out, "| date | {} |", m.date);
    let _ = writeln!(out, "| revision | {} |", m.git_revision);
    if let Some(kernel) = &m.kernel {
        let _ = writeln!(out, "| kernel | {kernel} |");
    }
    if let Some(ns) = m.round_trip_ns {
        let _ = writeln!(
            out,
            "| core-to-core round trip | {} (a cache line from one thread to another and back) |",
            format_time(ns)
        );
    }
    if report.rounds > 1 {
        let _ = writeln!(
            out,
            "| mode | {}, {} rounds (times: the median of the rounds' medians; ratios: the median of \
             the ratios measured in each round, their range in brackets) |\n",
            report.mode, report.rounds
        );
    } else {
        let _ = writeln!(out, "| mode | {} (medians) |\n", report.mode);
    }
    if let Some(chart) = chart {
        let _ = writeln!(
            out,
            "![ours vs peers: how many times faster ours is, per workload]({chart})\n"
        );
    }
    for (krate, rows) in rows_by_crate(report) {
        let _ = writeln!(out, "## {krate}\n");
        let _ = writeln!(out, "| {} |", HEADERS.join(" | "));
        let _ = writeln!(out, "|---|---|---:|---:|---:|");
        for row in rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        out.push('\n');
    }
    if report.measurements.is_empty() {
        let _ = writeln!(out, "No benchmarks have been written yet.\n");
    }
    for section in sections {
        out.push_str(section.trim_end());
        out.push_str("\n\n");
    }
    let _ = writeln!(
        out,
        "## Inputs\n\nKeys are seeded (Zipf draws, random graphs) so every implementation replays the same input. \
         Cache traces are from the ARC paper: Nimrod Megiddo and Dharmendra S. Modha, \"ARC: A Self-Tuning, \
         Low Overhead Replacement Cache\", USENIX FAST 03, San Francisco, CA, pp. 115-130, 2003."
    );
    out
}

/// A horizontal bar per comparison on a log scale centred on 1x; green where ours is faster.
pub(crate) fn chart_svg(comparisons: &[Comparison], path: &Path) -> Result<()> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};

    // Name our variant where it is not the plain one (`stanchion-timed`), so no two bars share a label.
    let labels: Vec<String> = comparisons
        .iter()
        .map(|c| match c.ours.as_str() {
            OURS => format!("{} vs {}", c.workload, c.peer),
            variant => format!("{} {variant} vs {}", c.workload, c.peer),
        })
        .collect();
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(10) as u32;
    let height = 120 + 30 * comparisons.len().max(1) as u32;
    let (low, high) = comparisons.iter().fold((0.5f64, 2.0f64), |(lo, hi), c| {
        (lo.min(c.speedup), hi.max(c.speedup))
    });
    let (low, high) = (low / 1.5, high * 2.0);

    let root = SVGBackend::new(path, (260 + 7 * longest, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "how many times faster ours is (peer median / ours)",
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(20 + 7 * longest)
        .build_cartesian_2d(
            (low..high).log_scale(),
            (0..comparisons.len()).into_segmented(),
        )?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .label_style(("sans-serif", 13))
        .x_labels(8)
        .x_label_formatter(&|x| format!("{x:.2}x"))
        .y_labels(comparisons.len().max(1))
        .y_label_formatter(&|y| match y {
            // The axis also asks for a label one past the last segment.
            SegmentValue::CenterOf(i) => comparisons
                .len()
                .checked_sub(i + 1)
                .and_then(|row| labels.get(row))
                .cloned()
                .unwrap_or_default(),
            _ => String::new(),
        })
        .draw()?;
    // Segments count from the bottom; draw the first comparison at the top.
    let row = |i: usize| comparisons.len() - 1 - i;
    chart.draw_series(comparisons.iter().enumerate().map(|(i, c)| {
        let color = if c.speedup >= 1.0 {
            RGBColor(46, 139, 87)
        } else {
            RGBColor(200, 60, 60)
        };
        let mut bar = Rectangle::new(
            [
                (1.0, SegmentValue::Exact(row(i))),
                (c.speedup, SegmentValue::Exact(row(i) + 1)),
            ],
            color.filled(),
        );
        bar.set_margin(4, 4, 0, 0);
        bar
    }))?;
    chart.draw_series(comparisons.iter().enumerate().map(|(i, c)| {
        Text::new(
            format!(" {:.2}x", c.speedup),
            (c.speedup.max(1.0), SegmentValue::CenterOf(row(i))),
            TextStyle::from(("sans-serif", 12).into_font()).pos(Pos::new(HPos::Left, VPos::Center)),
        )
    }))?;
    chart.draw_series(LineSeries::new(
        [
            (1.0, SegmentValue::Exact(0)),
            (1.0, SegmentValue::Exact(comparisons.len())),
        ],
        BLACK.stroke_width(1),
    ))?;
    root.present()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measurement(workload: &str, implementation: &str, median_ns: f64) -> Measurement {
        Measurement {
            id: format!("cache/{workload}/{implementation}"),
            krate: "cache".into(),
            workload: workload.into(),
            implementation: implementation.into(),
            ours: implementation.starts_with(OURS),
            median_ns,
            throughput: None,
        }
    }

    fn report(
        mode: &str,
        rounds: usize,
        measurements: Vec<Measurement>,
        comparisons: Vec<Comparison>,
    ) -> Report {
        Report {
            machine: Machine {
                cpu: "cpu".into(),
                cores: 2,
                rustc: "rustc".into(),
                date: "today".into(),
                git_revision: "abc".into(),
                round_trip_ns: Some(412.0),
                kernel: Some("6.18.0 (sched_vcpu_pack=15)".into()),
            },
            mode: mode.into(),
            filter: None,
            rounds,
            measurements,
            comparisons,
        }
    }

    #[test]
    fn compares_each_ours_with_each_peer_of_the_same_workload() {
        let comparisons = compare(&[
            measurement("zipf", "stanchion", 10.0),
            measurement("zipf", "moka", 50.0),
            measurement("zipf", "quick_cache", 5.0),
            measurement("trace", "stanchion", 4.0),
            measurement("trace-only-peer", "moka", 4.0),
        ]);
        let pairs: Vec<_> = comparisons
            .iter()
            .map(|c| (c.workload.as_str(), c.peer.as_str(), c.speedup))
            .collect();
        assert_eq!(
            pairs,
            [
                ("cache/zipf", "moka", 5.0),
                ("cache/zipf", "quick_cache", 0.5)
            ]
        );
    }

    #[test]
    fn a_peers_ratios_follow_the_order_of_ours_rows() {
        let measurements = vec![
            measurement("zipf", "stanchion-no-ttl", 5.0),
            measurement("zipf", "quick_cache", 10.0),
            measurement("zipf", "stanchion", 20.0),
        ];
        let comparisons = compare(&measurements);
        let report = report("full", 1, measurements, comparisons);
        let rows = &rows_by_crate(&report)["cache"];
        let names: Vec<&str> = rows.iter().map(|row| row[1].as_str()).collect();
        assert_eq!(names, ["stanchion", "stanchion-no-ttl", "quick_cache"]);
        assert_eq!(rows[2][4], "0.50x / 2.00x");
        let page = markdown(&report, None, &[]);
        assert!(
            page.contains("| core-to-core round trip | 412.0 ns ("),
            "the machine table names the round trip"
        );
        assert!(page.contains("| kernel | 6.18.0 (sched_vcpu_pack=15) |"));
    }

    #[test]
    fn rounds_combine_into_median_times_and_the_median_of_each_rounds_ratio() {
        let mut moka = measurement("zipf", "moka", 0.0);
        moka.throughput = Some(Throughput {
            unit: "elements".into(),
            per_iteration: 1_000,
            per_second: 0.0,
        });
        let round = |ours: f64, peer: f64| {
            vec![
                measurement("zipf", "stanchion", ours),
                Measurement {
                    median_ns: peer,
                    ..moka.clone()
                },
            ]
        };
        // Ours 10, 20, 12 against the peer's 30, 20, 60: in-round ratios 3, 1 and 5. The ratio of
        // the medians (30 / 12 = 2.5) is not what is wanted.
        let (measurements, comparisons) =
            combine(&[round(10.0, 30.0), round(20.0, 20.0), round(12.0, 60.0)]);
        let times: Vec<(&str, f64)> = measurements
            .iter()
            .map(|m| (m.implementation.as_str(), m.median_ns))
            .collect();
        assert_eq!(times, [("moka", 30.0), ("stanchion", 12.0)]);
        assert_eq!(
            measurements[0].throughput.as_ref().map(|t| t.per_second),
            Some(1_000.0 * 1e9 / 30.0),
            "throughput follows the combined time"
        );
        assert_eq!(comparisons.len(), 1);
        assert_eq!(comparisons[0].speedup, 3.0);
        assert_eq!(comparisons[0].rounds, [3.0, 1.0, 5.0]);
        assert_eq!(format_speedup(&comparisons[0]), "3.00x (1.00–5.00)");
        let report = report("quick", 3, measurements, comparisons);
        let page = markdown(&report, None, &[]);
        assert!(page.contains("`cargo xtask bench --quick --rounds 3`"));
        assert!(page.contains("| mode | quick, 3 rounds ("));
        assert!(page.contains("| 3.00x (1.00–5.00) |"), "{page}");

        let (_, one) = combine(&[round(10.0, 30.0)]);
        assert_eq!(one[0].speedup, 3.0);
        assert!(one[0].rounds.is_empty(), "one round has no range");
        assert_eq!(format_speedup(&one[0]), "3.00x");
    }

    #[test]
    fn names_the_kernel_with_its_placement_parameters() {
        let cmdline = "console=ttyS0 quiet cpuidle_haltpoll.force=1 sched_vcpu_pack=15 \
                       rdinit=/init -- --sched-like-flag-for-init";
        assert_eq!(
            kernel("6.18.0", cmdline),
            "6.18.0 (cpuidle_haltpoll.force=1 sched_vcpu_pack=15)"
        );
        assert_eq!(kernel("6.1.0", "console=ttyS0 quiet"), "6.1.0");
    }

    #[test]
    fn measures_a_round_trip_between_two_threads() {
        match std::thread::available_parallelism().map_or(1, |n| n.get()) {
            1 => assert_eq!(round_trip_ns(1), None),
            cores => assert!(round_trip_ns(cores).is_some_and(|ns| ns > 0.0 && ns < 1e6)),
        }
    }

    #[test]
    fn reads_criterion_files_with_parameters_and_throughput() {
        let dir = std::env::temp_dir().join(format!("xtask-report-{}", std::process::id()));
        let new = dir.join("queue_batch/moka/2/new");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(
            new.join("benchmark.json"),
            r#"{"group_id":"queue/batch","function_id":"moka","value_str":"2",
                "throughput":{"Elements":1000},"full_id":"queue/batch/moka/2"}"#,
        )
        .unwrap();
        std::fs::write(
            new.join("estimates.json"),
            r#"{"median":{"point_estimate":2000.0}}"#,
        )
        .unwrap();

        let found = collect(&dir, SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(found.len(), 1);
        let m = &found[0];
        assert_eq!(
            (
                m.krate.as_str(),
                m.workload.as_str(),
                m.implementation.as_str()
            ),
            ("queue", "batch/2", "moka")
        );
        assert!(!m.ours);
        assert_eq!(m.throughput.as_ref().unwrap().per_second, 5e8);
        assert!(
            collect(&dir, SystemTime::now() + std::time::Duration::from_secs(60))
                .unwrap()
                .is_empty()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn chart_names_every_comparison_with_its_speedup() {
        let comparisons = compare(&[
            measurement("zipf", "stanchion", 10.0),
            measurement("zipf", "moka", 52.0),
            measurement("zipf", "stanchion-fast", 5.0),
            measurement("trace", "stanchion", 10.0),
            measurement("trace", "lru", 8.0),
        ]);
        let path = std::env::temp_dir().join(format!("xtask-chart-{}.svg", std::process::id()));
        chart_svg(&comparisons, &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        for text in [
            "cache/zipf vs moka",
            "5.20x",
            "cache/trace vs lru",
            "0.80x",
            "cache/zipf stanchion-fast vs moka",
        ] {
            assert!(svg.contains(text), "{text} missing from the chart");
        }
    }

    #[test]
    fn time_and_rate_formats() {
        assert_eq!(format_time(12.34), "12.3 ns");
        assert_eq!(format_time(12_340.0), "12.34 µs");
        assert_eq!(format_time(2.5e9), "2.50 s");
        let rate = |per_second| {
            Some(Throughput {
                unit: "elements".into(),
                per_iteration: 1,
                per_second,
            })
        };
        assert_eq!(format_rate(&rate(2.5e7)), "25.00 M/s");
        assert_eq!(format_rate(&None), "-");
    }
}
