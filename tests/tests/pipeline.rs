//! The facade's pipeline example, run as a user runs it: a cycle is refused by name, a whole run
//! retries its flaky step, and a run killed mid-way resumes without running a finished step again.
//!
//! Every step of the pipelines appends its name to `<state>/ran`, which tells what ran and how
//! often.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

#[test]
fn a_cycle_is_refused_by_name() {
    let state = tempfile::tempdir().unwrap();
    let output = run(&shipped("broken.toml"), state.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("dependency cycle: compile -> codegen -> schema -> compile"),
        "{stderr}"
    );
    assert!(ran(state.path()).is_empty(), "nothing may run");
}

#[test]
fn every_step_runs_once_and_the_flaky_one_twice() {
    let state = tempfile::tempdir().unwrap();
    let stdout = succeeded(&run(&shipped("build.toml"), state.path()));
    assert!(stdout.contains("6 of 6 steps succeeded"), "{stdout}");
    let expected = [
        ("checkout", 1),
        ("compile", 1),
        ("docs", 1),
        ("lint", 1),
        ("package", 1),
        ("test", 2),
    ];
    assert_eq!(counts(&ran(state.path())), BTreeMap::from(expected));
    let log = std::fs::read_to_string(state.path().join("pipeline.log")).unwrap();
    assert!(log.contains("test: try 1 failed"), "{log}");
    assert!(log.contains("test: summary: succeeded, 2 tries ("), "{log}");
}

#[test]
fn a_killed_run_resumes_where_it_stopped() {
    const STEPS: [&str; 5] = ["a", "b", "c", "d", "e"];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chain.toml");
    let state = dir.path().join("state");
    let step = |name: &str, after: &[&str]| {
        format!(
            "[[step]]\nname = \"{name}\"\ndepends_on = {after:?}\n\
             command = 'sleep 0.3; echo {name} >> \"$PIPELINE_STATE/ran\"'\n"
        )
    };
    let pipeline = [
        "name = \"chain\"\n".to_owned(),
        step("a", &[]),
        step("b", &["a"]),
        step("c", &["a"]),
        step("d", &["b", "c"]),
        step("e", &["d"]),
    ];
    std::fs::write(&file, pipeline.concat()).unwrap();

    // Its own process group, so the kill takes the running commands down with it, as a crash
    // of the machine or of the terminal would.
    let mut first = Command::new(example())
        .arg(&file)
        .arg("--state")
        .arg(&state)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    // b and c start only once a is recorded as succeeded, so when either has run, a is done.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ran(&state).iter().any(|step| step != "a") {
        assert!(Instant::now() < deadline, "no step after a ran in time");
        std::thread::sleep(Duration::from_millis(10));
    }
    let killed = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{}", first.id())])
        .status()
        .unwrap();
    assert!(killed.success());
    first.wait().unwrap();
    let before = ran(&state);
    assert!(
        counts(&before).len() < STEPS.len(),
        "killed too late: {before:?}"
    );

    let stdout = succeeded(&run(&file, &state));
    assert!(stdout.contains("5 of 5 steps succeeded"), "{stdout}");
    let earlier: Vec<&str> = stdout
        .split_once("succeeded earlier (")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(names, _)| names.split(", ").collect())
        .unwrap_or_else(|| panic!("no resume line in {stdout}"));
    assert!(earlier.contains(&"a"), "{stdout}");

    let all = ran(&state);
    let after = counts(&all[before.len()..]);
    for step in STEPS {
        let ran_after = after.get(step).copied().unwrap_or(0);
        if earlier.contains(&step) {
            assert!(
                before.iter().any(|s| s == step),
                "{step} succeeded without running"
            );
            assert_eq!(
                ran_after, 0,
                "{step} succeeded before the kill, yet ran again"
            );
        } else {
            // A step killed mid-command runs once more; one whose command finished just before
            // the kill, but whose success was not yet recorded, runs a second time.
            assert_eq!(ran_after, 1, "{step} after the kill: {all:?}");
        }
    }
}

#[test]
fn a_step_whose_command_was_fixed_starts_over_with_the_new_command() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fix.toml");
    let state = dir.path().join("state");
    let pipeline = |command: &str| {
        format!(
            "name = \"fix\"\n[[step]]\nname = \"only\"\ndepends_on = []\n\
             command = 'echo {command} >> \"$PIPELINE_STATE/ran\"; {command}'\n"
        )
    };
    std::fs::write(&file, pipeline("false")).unwrap();
    assert!(
        !run(&file, &state).status.success(),
        "the broken command fails"
    );

    std::fs::write(&file, pipeline("true")).unwrap();
    let stdout = succeeded(&run(&file, &state));
    assert!(
        stdout.contains("only: the command changed; it starts over"),
        "{stdout}"
    );
    let ran = ran(&state);
    assert_eq!(ran.last().map(String::as_str), Some("true"), "{ran:?}");
    assert_eq!(counts(&ran).get("true"), Some(&1), "{ran:?}");
}

/// Runs the example on `file` with its state in `state`, to the end.
fn run(file: &Path, state: &Path) -> Output {
    Command::new(example())
        .arg(file)
        .arg("--state")
        .arg(state)
        .output()
        .unwrap()
}

/// The standard output of a run that must have succeeded.
fn succeeded(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/stanchion/examples/pipelines")
        .join(name)
}

/// The step names in `<state>/ran`, in the order they ran.
fn ran(state: &Path) -> Vec<String> {
    std::fs::read_to_string(state.join("ran"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn counts(steps: &[String]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for step in steps {
        *counts.entry(step.as_str()).or_default() += 1;
    }
    counts
}

/// The example's executable, built once for all the tests with the features CI's test run uses,
/// so that under `cargo test --workspace --all-features` the build finds nothing to do.
fn example() -> &'static Path {
    static EXAMPLE: OnceLock<PathBuf> = OnceLock::new();
    EXAMPLE.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(cargo)
            .args([
                "build",
                "--workspace",
                "--all-features",
                "--example",
                "pipeline",
                "--message-format=json-render-diagnostics",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "building the pipeline example failed"
        );
        // Cargo names the executable it built, wherever CARGO_TARGET_DIR or a config put it.
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|message| message["target"]["name"] == "pipeline")
            .find_map(|message| message["executable"].as_str().map(PathBuf::from))
            .expect("cargo reports the example's executable")
    })
}
