//! `cargo xtask bench-check`: the last report's speedups against `benches/baseline.json`.
//!
//! Absolute times differ from machine to machine; the speedup of ours over a peer measured in the
//! same run is what stays comparable, so that is what the baseline records.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::report::{Comparison, Report, median};

/// How far under its recorded speedup a comparison may fall before it is a regression, unless the
/// baseline says otherwise. Two-core machines are noisy.
const DEFAULT_TOLERANCE: f64 = 0.25;

/// How many `--update`s a comparison's recorded speedup is the median of. One full run on a
/// two-core VM can put a ratio 1.5x off its usual value; recording it as the baseline made the
/// next run's usual value look like a regression (or hid one).
const HISTORY: usize = 5;

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Baseline {
    /// Allowed relative drop below a recorded speedup (0.25: a speedup may fall to 75% of it).
    pub(crate) tolerance: f64,
    pub(crate) comparisons: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub(crate) workload: String,
    pub(crate) ours: String,
    pub(crate) peer: String,
    /// The speedup a run is judged against: the median of `history`.
    pub(crate) speedup: f64,
    /// The speedups of the last [`HISTORY`] `--update`s, oldest first (empty for an entry no
    /// update has touched since histories were kept: its `speedup` is its one value).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) history: Vec<f64>,
    /// A speedup this comparison must never fall under, whatever the tolerance: the issue's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) floor: Option<f64>,
    /// This comparison's own tolerance, for a workload noisier than the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tolerance: Option<f64>,
}

impl Entry {
    fn matches(&self, c: &Comparison) -> bool {
        self.workload == c.workload && self.ours == c.ours && self.peer == c.peer
    }

    fn name(&self) -> String {
        format!("{} {} vs {}", self.workload, self.ours, self.peer)
    }

    /// Adds a measured speedup to the history, dropping the oldest past [`HISTORY`], and judges
    /// by the median of what is left.
    fn record(&mut self, speedup: f64) {
        if self.history.is_empty() {
            self.history.push(self.speedup);
        }
        self.history.push(round(speedup));
        let excess = self.history.len().saturating_sub(HISTORY);
        self.history.drain(..excess);
        self.speedup = round(median(&self.history));
    }
}

/// What became of one baseline entry.
#[derive(Debug, PartialEq)]
pub(crate) enum Verdict {
    Pass { now: f64 },
    Regressed { now: f64, least: f64 },
    UnderFloor { now: f64, floor: f64 },
    NotMeasured,
}

pub(crate) fn judge(baseline: &Baseline, entry: &Entry, comparisons: &[Comparison]) -> Verdict {
    let Some(now) = comparisons
        .iter()
        .find(|c| entry.matches(c))
        .map(|c| c.speedup)
    else {
        return Verdict::NotMeasured;
    };
    if let Some(floor) = entry.floor.filter(|&floor| now < floor) {
        return Verdict::UnderFloor { now, floor };
    }
    let least = entry.speedup * (1.0 - entry.tolerance.unwrap_or(baseline.tolerance));
    if now < least {
        Verdict::Regressed { now, least }
    } else {
        Verdict::Pass { now }
    }
}

pub(crate) fn run(report_path: &Path, baseline_path: &Path, update: bool) -> Result<()> {
    let report: Report =
        serde_json::from_str(&std::fs::read_to_string(report_path).with_context(|| {
            format!(
                "no report at {}: run `cargo xtask bench` first",
                report_path.display()
            )
        })?)
        .with_context(|| format!("parsing {}", report_path.display()))?;
    let baseline = match std::fs::read_to_string(baseline_path) {
        Ok(text) => serde_json::from_str(&text)
            .with_context(|| format!("parsing {}", baseline_path.display()))?,
        Err(_) if update => Baseline {
            tolerance: DEFAULT_TOLERANCE,
            comparisons: Vec::new(),
        },
        Err(e) => bail!("cannot read baseline {}: {e}", baseline_path.display()),
    };
    if update {
        if report.mode == "quick" {
            bail!(
                "{} is from a --quick run: the baseline records full runs only (a quick run \
                 takes ten samples in a second, and a history mixing its ratios with full runs' \
                 would take the median of two methods)",
                report_path.display()
            );
        }
        let updated = updated(baseline, &report.comparisons);
        std::fs::write(
            baseline_path,
            serde_json::to_string_pretty(&updated)? + "\n",
        )?;
        println!(
            "wrote {} ({} comparisons) from {}",
            baseline_path.display(),
            updated.comparisons.len(),
            report_path.display()
        );
        return Ok(());
    }

    println!(
        "speedups of {} against {}",
        report_path.display(),
        baseline_path.display()
    );
    let mut failures = 0;
    for entry in &baseline.comparisons {
        let verdict = judge(&baseline, entry, &report.comparisons);
        let line = match verdict {
            Verdict::Pass { now } => format!(
                "ok        {}: {now:.2}x (baseline {:.2}x)",
                entry.name(),
                entry.speedup
            ),
            Verdict::Regressed { now, least } => format!(
                "REGRESSED {}: {now:.2}x, baseline {:.2}x allows no less than {least:.2}x",
                entry.name(),
                entry.speedup
            ),
            Verdict::UnderFloor { now, floor } => format!(
                "FLOOR     {}: {now:.2}x is under the floor {floor:.2}x",
                entry.name()
            ),
            Verdict::NotMeasured => format!(
                "MISSING   {}: not in the report (run the full `cargo xtask bench`)",
                entry.name()
            ),
        };
        failures += usize::from(!matches!(verdict, Verdict::Pass { .. }));
        println!("{line}");
    }
    for c in report
        .comparisons
        .iter()
        .filter(|c| !baseline.comparisons.iter().any(|e| e.matches(c)))
    {
        println!(
            "new       {} {} vs {}: {:.2}x, not in the baseline (add it with --update)",
            c.workload, c.ours, c.peer, c.speedup
        );
    }
    if failures > 0 {
        bail!(
            "{failures} of {} comparisons regressed or were not measured",
            baseline.comparisons.len()
        );
    }
    println!("all {} comparisons hold", baseline.comparisons.len());
    Ok(())
}

/// The baseline with every measured speedup added to its comparison's history; floors and
/// tolerances are kept, new comparisons are added without a floor, and entries the report lacks
/// stay as they were.
fn updated(mut baseline: Baseline, comparisons: &[Comparison]) -> Baseline {
    for c in comparisons {
        match baseline.comparisons.iter_mut().find(|e| e.matches(c)) {
            Some(entry) => entry.record(c.speedup),
            None => baseline.comparisons.push(Entry {
                workload: c.workload.clone(),
                ours: c.ours.clone(),
                peer: c.peer.clone(),
                speedup: round(c.speedup),
                history: vec![round(c.speedup)],
                floor: None,
                tolerance: None,
            }),
        }
    }
    baseline.comparisons.sort_by_key(Entry::name);
    baseline
}

fn round(speedup: f64) -> f64 {
    (speedup * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comparison(workload: &str, speedup: f64) -> Comparison {
        Comparison {
            workload: workload.into(),
            ours: "stanchion".into(),
            peer: "peer".into(),
            ours_median_ns: 1.0,
            peer_median_ns: speedup,
            speedup,
            rounds: Vec::new(),
        }
    }

    fn entry(workload: &str, speedup: f64, floor: Option<f64>, tolerance: Option<f64>) -> Entry {
        Entry {
            workload: workload.into(),
            ours: "stanchion".into(),
            peer: "peer".into(),
            speedup,
            history: Vec::new(),
            floor,
            tolerance,
        }
    }

    #[test]
    fn verdicts() {
        let baseline = Baseline {
            tolerance: 0.25,
            comparisons: Vec::new(),
        };
        let now = [comparison("a", 3.0)];
        for (entry, expected) in [
            (entry("a", 3.5, None, None), Verdict::Pass { now: 3.0 }),
            (entry("a", 4.0, None, None), Verdict::Pass { now: 3.0 }),
            (
                entry("a", 4.1, None, None),
                Verdict::Regressed {
                    now: 3.0,
                    least: 4.1 * 0.75,
                },
            ),
            (entry("a", 4.1, None, Some(0.5)), Verdict::Pass { now: 3.0 }),
            (
                entry("a", 3.0, Some(3.5), None),
                Verdict::UnderFloor {
                    now: 3.0,
                    floor: 3.5,
                },
            ),
            (entry("b", 1.0, None, None), Verdict::NotMeasured),
        ] {
            assert_eq!(judge(&baseline, &entry, &now), expected, "{entry:?}");
        }
    }

    #[test]
    fn update_refreshes_speedups_and_keeps_floors() {
        let baseline = Baseline {
            tolerance: 0.3,
            comparisons: vec![
                entry("a", 1.0, Some(2.0), None),
                entry("gone", 1.0, None, None),
            ],
        };
        let updated = updated(baseline, &[comparison("a", 2.34567), comparison("b", 5.0)]);
        let view: Vec<_> = updated
            .comparisons
            .iter()
            .map(|e| (e.workload.as_str(), e.speedup, e.floor))
            .collect();
        // `a` had only its speedup: the median of it and the new one.
        assert_eq!(
            view,
            [
                ("a", 1.673, Some(2.0)),
                ("b", 5.0, None),
                ("gone", 1.0, None)
            ]
        );
        assert_eq!(updated.comparisons[0].history, [1.0, 2.346]);
        assert_eq!(updated.comparisons[1].history, [5.0]);
        assert!(updated.comparisons[2].history.is_empty());
        assert_eq!(updated.tolerance, 0.3);
    }

    #[test]
    fn a_quick_report_does_not_update_the_baseline() {
        let dir = std::env::temp_dir().join(format!("xtask-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (report, baseline) = (dir.join("report.json"), dir.join("baseline.json"));
        let machine = r#"{"cpu":"c","cores":2,"rustc":"r","date":"d","git_revision":"g"}"#;
        let comparisons = r#"[{"workload":"a","ours":"stanchion","peer":"peer",
            "ours_median_ns":1.0,"peer_median_ns":2.0,"speedup":2.0}]"#;
        for mode in ["quick", "full"] {
            std::fs::write(
                &report,
                format!(
                    r#"{{"machine":{machine},"mode":"{mode}","filter":null,
                        "measurements":[],"comparisons":{comparisons}}}"#
                ),
            )
            .unwrap();
            let result = run(&report, &baseline, true);
            match mode {
                "quick" => {
                    let error = result.unwrap_err().to_string();
                    assert!(error.contains("--quick run"), "{error}");
                    assert!(!baseline.exists(), "nothing written");
                }
                _ => {
                    result.unwrap();
                    assert!(
                        std::fs::read_to_string(&baseline)
                            .unwrap()
                            .contains("\"a\"")
                    );
                }
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn one_outlying_run_does_not_move_the_baseline_far() {
        let mut entry = entry("a", 2.0, None, None);
        for speedup in [2.1, 1.9, 2.0, 0.9, 2.2, 2.05] {
            entry.record(speedup);
        }
        // The first two values have left; the outlier 0.9 is one of five.
        assert_eq!(entry.history, [1.9, 2.0, 0.9, 2.2, 2.05]);
        assert_eq!(entry.speedup, 2.0);
        entry.record(3.0);
        entry.record(3.1);
        assert_eq!(entry.history, [0.9, 2.2, 2.05, 3.0, 3.1]);
        assert_eq!(entry.speedup, 2.2);
    }
}
