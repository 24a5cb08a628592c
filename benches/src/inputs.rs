use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand_distr::{Distribution, Zipf};

/// A log message of `size` bytes (the alphabet over and over), for the ring benches.
pub fn log_message(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'a' + (i % 26) as u8).collect()
}

/// [`log_message`] as a formatted line, timestamp and level included: what a peer's writer is
/// handed in the ring benches, where ours is handed the record and formats the line itself.
pub fn log_line(size: usize) -> Vec<u8> {
    let mut line = b"2026-11-23T10:15:02.123456Z  INFO bench: ".to_vec();
    line.extend(log_message(size));
    line.push(b'\n');
    line
}

/// `count` keys drawn from Zipf(`exponent`) over `0..universe`, from a fixed `seed`.
///
/// Key 0 is the most frequent. The same arguments give the same keys on every machine, so ours
/// and every peer replay one sequence.
///
/// # Panics
///
/// If `universe` is 0 or `exponent` is negative or not finite (a bench's own input is wrong).
pub fn zipf_keys(count: usize, universe: u64, exponent: f64, seed: u64) -> Vec<u64> {
    let zipf = Zipf::new(universe as f64, exponent).expect("zipf parameters must be valid");
    let mut rng = SmallRng::seed_from_u64(seed);
    // Zipf samples ranks 1..=universe as floats.
    (0..count)
        .map(|_| zipf.sample(&mut rng) as u64 - 1)
        .collect()
}

/// The ARC paper's cache traces shipped in `shared/data/traces`.
///
/// Figures from them must cite: Nimrod Megiddo and Dharmendra S. Modha, "ARC: A Self-Tuning, Low
/// Overhead Replacement Cache", USENIX FAST 03, San Francisco, CA, pp. 115-130, 2003.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trace {
    /// An OLTP workload: 186,880 distinct blocks.
    Oltp,
    /// A workstation disk trace (P3): 762,543 distinct blocks.
    P3,
}

impl Trace {
    /// The trace's short name, as used in bench ids and reports.
    pub fn name(self) -> &'static str {
        match self {
            Trace::Oltp => "OLTP",
            Trace::P3 => "P3",
        }
    }

    fn file_name(self) -> &'static str {
        match self {
            Trace::Oltp => "OLTP.lis.zst",
            Trace::P3 => "P3.lis.zst",
        }
    }
}

/// A trace that could not be read, with the file it came from.
#[derive(Debug)]
pub struct TraceError {
    path: PathBuf,
    cause: io::Error,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot read trace {} ({}); set STANCHION_TRACES to the folder holding the .lis.zst files",
            self.path.display(),
            self.cause
        )
    }
}

impl std::error::Error for TraceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

/// The folder holding the traces: `$STANCHION_TRACES`, or `shared/data/traces` beside the checkout.
pub fn traces_dir() -> PathBuf {
    match std::env::var_os("STANCHION_TRACES") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/traces"),
    }
}

/// Every request of `which`, in order, one key per requested block.
///
/// # Errors
///
/// If the file is missing, is not valid zstd, or has a malformed line.
pub fn trace(which: Trace) -> Result<Vec<u64>, TraceError> {
    let path = traces_dir().join(which.file_name());
    let read = || -> io::Result<Vec<u64>> {
        let file = BufReader::new(File::open(&path)?);
        let decoder = ruzstd::decoding::StreamingDecoder::new(file)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        parse_trace(BufReader::new(decoder))
    };
    read().map_err(|cause| TraceError {
        path: path.clone(),
        cause,
    })
}

/// Parses the ARC trace format: each line `start length _ _` requests blocks `start..start+length`.
///
/// # Errors
///
/// `InvalidData` naming the line number of the first line that is not two integers and two fields more.
///
/// # Examples
///
/// ```
/// let keys = stanchion_benches::parse_trace("10 3 0 0\n7 1 0 0\n".as_bytes()).unwrap();
/// assert_eq!(keys, [10, 11, 12, 7]);
/// ```
pub fn parse_trace(input: impl Read) -> io::Result<Vec<u64>> {
    let mut keys = Vec::new();
    for (index, line) in BufReader::new(input).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "line {}: expected `start length _ _`, found {line:?}",
                    index + 1
                ),
            )
        };
        let mut fields = line.split_whitespace();
        let start: u64 = fields.next().and_then(|f| f.parse().ok()).ok_or_else(bad)?;
        let length: u64 = fields.next().and_then(|f| f.parse().ok()).ok_or_else(bad)?;
        if fields.count() != 2 {
            return Err(bad());
        }
        keys.extend(start..start + length);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn zipf_is_seeded_in_range_and_skewed() {
        let keys = zipf_keys(100_000, 1000, 1.0, 7);
        assert_eq!(keys, zipf_keys(100_000, 1000, 1.0, 7));
        assert_ne!(keys, zipf_keys(100_000, 1000, 1.0, 8));
        assert!(keys.iter().all(|&k| k < 1000));
        let zeros = keys.iter().filter(|&&k| k == 0).count();
        let tail = keys.iter().filter(|&&k| k == 999).count();
        assert!(
            zeros > 50 * tail.max(1),
            "key 0 seen {zeros} times, key 999 {tail}"
        );
    }

    #[test]
    fn malformed_lines_are_named() {
        for (input, line) in [
            ("1 2 0 0\nx 1 0 0\n", "line 2"),
            ("1\n", "line 1"),
            ("1 2 3\n", "line 1"),
        ] {
            let error = parse_trace(input.as_bytes()).unwrap_err();
            assert!(error.to_string().starts_with(line), "{input:?}: {error}");
        }
    }

    #[test]
    fn oltp_trace_has_the_documented_key_count() {
        let keys = trace(Trace::Oltp).unwrap();
        let distinct: HashSet<u64> = keys.iter().copied().collect();
        assert_eq!(distinct.len(), 186_880);
    }

    #[test]
    fn missing_trace_names_the_file() {
        let error = TraceError {
            path: "/nowhere/P3.lis.zst".into(),
            cause: io::ErrorKind::NotFound.into(),
        };
        assert!(error.to_string().contains("/nowhere/P3.lis.zst"));
        assert!(error.to_string().contains("STANCHION_TRACES"));
    }
}
