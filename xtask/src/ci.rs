//! `cargo xtask ci`: every check CI runs, in order, stopping at the first failure.

use anyhow::{Result, bail};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::process::{cargo, step};

/// Where the PostgreSQL suites connect unless `STANCHION_PG_URL` says otherwise.
const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub(crate) fn run(quick: bool) -> Result<()> {
    let root = crate::workspace_root();
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let quick = if quick && in_ci {
        eprintln!("CI=true: --quick is ignored, every step runs");
        false
    } else {
        quick
    };
    let started = Instant::now();

    let pg_url = postgres_url(in_ci)?;

    step(
        "rustfmt",
        cargo(&root).args(["fmt", "--all", "--", "--check"]),
    )?;
    step(
        "clippy",
        cargo(&root).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;

    let mut test = cargo(&root);
    test.args(["test", "--workspace", "--all-features", "--locked"]);
    match &pg_url {
        Some(url) => test.env("STANCHION_PG_URL", url),
        None => test.env_remove("STANCHION_PG_URL"),
    };
    step(
        "tests (unit, integration, property, doc, PostgreSQL suites)",
        &mut test,
    )?;

    step(
        "docs",
        cargo(&root).env("RUSTDOCFLAGS", "-D warnings").args([
            "doc",
            "--workspace",
            "--no-deps",
            "--all-features",
            "--locked",
        ]),
    )?;

    if quick {
        eprintln!("\n--quick: skipped the loom models and the bench smoke run");
    } else {
        loom(&root)?;
        crate::bench::smoke(&root, None)?;
    }

    eprintln!("\nci: every step passed in {:.0?}", started.elapsed());
    Ok(())
}

/// Lints, then runs, each crate's `tests/loom.rs` under `--cfg stanchion_loom`, in a target dir of
/// its own so the different flags do not evict the ordinary build. The lint sees the code that only
/// loom builds compile (loom's types in `src/sync.rs`, the models), which the main clippy step
/// never does.
fn loom(root: &Path) -> Result<()> {
    let mut crates: Vec<String> = std::fs::read_dir(root.join("crates"))?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("tests/loom.rs").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    crates.sort();
    if crates.is_empty() {
        eprintln!("\n==> loom models\n    no crate has tests/loom.rs yet");
    }
    let loom_cargo = || {
        let mut command = cargo(root);
        command
            .env("RUSTFLAGS", "--cfg stanchion_loom")
            .env("CARGO_TARGET_DIR", root.join("target/loom"));
        command
    };
    for name in crates {
        let package = format!("stanchion-{name}");
        step(
            &format!("clippy of stanchion-{name} under loom"),
            loom_cargo().args([
                "clippy",
                "--release",
                "--locked",
                "-p",
                &package,
                "--lib",
                "--test",
                "loom",
                "--",
                "-D",
                "warnings",
            ]),
        )?;
        step(
            &format!("loom models of stanchion-{name}"),
            loom_cargo().env("LOOM_MAX_PREEMPTIONS", "2").args([
                "test",
                "--release",
                "--locked",
                "-p",
                &package,
                "--test",
                "loom",
            ]),
        )?;
    }
    Ok(())
}

/// The URL the PostgreSQL suites get, or `None` when they should skip.
///
/// Under CI a server that does not answer is a failure; locally the suites are skipped with a note.
fn postgres_url(in_ci: bool) -> Result<Option<String>> {
    let url = std::env::var("STANCHION_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned());
    eprintln!("==> PostgreSQL at {url}");
    match reachable(&url) {
        Ok(()) => Ok(Some(url)),
        Err(reason) if in_ci => bail!(
            "PostgreSQL at {url} is required under CI=true but {reason}; start it (see .ci/run) or set STANCHION_PG_URL"
        ),
        Err(reason) => {
            eprintln!(
                "    {reason}: the PostgreSQL suites will be skipped (they are required under CI=true)"
            );
            Ok(None)
        }
    }
}

/// Whether something accepts TCP connections at the URL's host and port.
fn reachable(url: &str) -> Result<(), String> {
    let address = host_port(url).ok_or_else(|| format!("cannot find host:port in {url}"))?;
    let mut addresses = address
        .to_socket_addrs()
        .map_err(|e| format!("{address} does not resolve: {e}"))?;
    let first = addresses
        .next()
        .ok_or_else(|| format!("{address} resolves to nothing"))?;
    TcpStream::connect_timeout(&first, Duration::from_secs(3))
        .map(drop)
        .map_err(|e| format!("nothing answers at {address}: {e}"))
}

/// `host:port` from `scheme://[user[:password]@]host[:port][/path][?query]`, port 5432 by default.
fn host_port(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host.is_empty() {
        return None;
    }
    let has_port = host
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok());
    Some(if has_port {
        host.to_owned()
    } else {
        format!("{host}:5432")
    })
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn host_port_of_postgres_urls() {
        for (url, expected) in [
            (
                "postgres://postgres@127.0.0.1:5432/test",
                Some("127.0.0.1:5432"),
            ),
            (
                "postgresql://u:p@db.local/test?sslmode=disable",
                Some("db.local:5432"),
            ),
            ("postgres://localhost:6000", Some("localhost:6000")),
            ("postgres:///test", None),
            ("127.0.0.1:5432", None),
        ] {
            assert_eq!(host_port(url).as_deref(), expected, "{url}");
        }
    }
}
