//! Shared inputs and conventions for the Stanchion benchmarks.
//!
//! Every bench file in `benches/benches/<crate>.rs` measures ours and each peer on the same input in
//! the same run. `cargo xtask bench` reads the results back from criterion by these conventions:
//!
//! - a criterion group is named `<crate>/<workload>` (for example `cache/zipf_1.0`);
//! - inside it, each implementation is a benchmark whose function id is [`OURS`] (or starts with it,
//!   such as `stanchion-ids`) for ours, and the peer crate's name for a peer;
//! - an optional parameter (`BenchmarkId::new("moka", 2)`) becomes part of the workload, so
//!   `cache/zipf_1.0/2` compares ours and moka at 2 threads;
//! - groups set `Throughput` so the report can give items per second.
//!
//! Inputs are seeded and shared: [`zipf_keys`] for skewed keys, [`trace`] for the ARC cache traces,
//! [`log_message`] and [`log_line`] for the ring's records.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod inputs;

pub use inputs::{
    Trace, TraceError, log_line, log_message, parse_trace, trace, traces_dir, zipf_keys,
};

use std::time::Duration;

/// The function id that marks our implementation in a criterion group.
pub const OURS: &str = "stanchion";

/// The criterion configuration every bench file uses: no plots (the xtask draws its own chart)
/// and a measurement time that keeps a full run of every bench within minutes on two cores.
///
/// Command-line flags (`--quick` runs of the xtask pass `--measurement-time` and friends) still
/// override these.
pub fn criterion() -> criterion::Criterion {
    criterion::Criterion::default()
        .without_plots()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}
