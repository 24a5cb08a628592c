//! Hit ratio of stanchion-cache, moka (sync), quick_cache, mini-moka and a plain LRU on the ARC
//! traces and on Zipf keys: one thread, `get` then `insert` on a miss. Prints a Markdown table and
//! writes it to `target/bench/sections/cache-hit-ratio.md`. With `--test` (the smoke run) it replays only the
//! first 100,000 OLTP requests at 256 entries.
//!
//! Traces: Nimrod Megiddo and Dharmendra S. Modha, "ARC: A Self-Tuning, Low Overhead Replacement
//! Cache", USENIX FAST 03, San Francisco, CA, pp. 115-130, 2003.

use std::fmt::Write as _;
use std::num::NonZeroUsize;
use std::path::Path;

use stanchion_benches::{OURS, Trace, trace, zipf_keys};

trait Policy {
    /// Looks `key` up, inserting it on a miss; true on a hit.
    fn access(&mut self, key: u64) -> bool;
}

macro_rules! get_then_insert {
    ($type:ty) => {
        impl Policy for $type {
            fn access(&mut self, key: u64) -> bool {
                if self.get(&key).is_some() {
                    return true;
                }
                self.insert(key, ());
                false
            }
        }
    };
}

get_then_insert!(stanchion_cache::Cache<u64, ()>);
get_then_insert!(moka::sync::Cache<u64, ()>);
get_then_insert!(quick_cache::sync::Cache<u64, ()>);
get_then_insert!(mini_moka::sync::Cache<u64, ()>);

impl Policy for lru::LruCache<u64, ()> {
    fn access(&mut self, key: u64) -> bool {
        if self.get(&key).is_some() {
            return true;
        }
        self.put(key, ());
        false
    }
}

const NAMES: [&str; 5] = [OURS, "moka", "quick_cache", "mini-moka", "lru"];

fn policies(capacity: usize) -> Vec<Box<dyn Policy>> {
    let entries = capacity as u64;
    vec![
        Box::new(stanchion_cache::Cache::new(entries)),
        Box::new(moka::sync::Cache::new(entries)),
        Box::new(quick_cache::sync::Cache::new(capacity)),
        Box::new(mini_moka::sync::Cache::new(entries)),
        Box::new(lru::LruCache::new(
            NonZeroUsize::new(capacity).expect("capacity is positive"),
        )),
    ]
}

fn hit_ratio(policy: &mut dyn Policy, keys: &[u64]) -> f64 {
    let hits = keys.iter().filter(|&&key| policy.access(key)).count();
    100.0 * hits as f64 / keys.len() as f64
}

/// The id a criterion filter must match for this bench to run.
const ID: &str = "cache/hit-ratio";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Criterion's flags reach every bench: `--list` asks for ids (this bench measures no time, so
    // it lists none), and a filter (any argument with a letter that is not a flag) selects.
    let filtered_out = args
        .iter()
        .filter(|arg| !arg.starts_with('-') && arg.chars().any(char::is_alphabetic))
        .any(|filter| !ID.contains(filter.as_str()));
    if args.iter().any(|arg| arg == "--list") || filtered_out {
        return;
    }
    let smoke = args.iter().any(|arg| arg == "--test");
    let oltp = trace(Trace::Oltp).expect("the OLTP trace is readable");
    let mut rows: Vec<(String, usize, Vec<u64>)> = Vec::new();
    if smoke {
        rows.push(("OLTP (first 100k)".into(), 256, oltp[..100_000].to_vec()));
    } else {
        let p3 = trace(Trace::P3).expect("the P3 trace is readable");
        for capacity in [256, 1_000, 2_000] {
            rows.push(("OLTP".into(), capacity, oltp.clone()));
        }
        for capacity in [20_000, 160_000] {
            rows.push(("P3".into(), capacity, p3.clone()));
        }
        for exponent in [0.8, 1.0, 1.2] {
            let keys = zipf_keys(2_000_000, 1_000_000, exponent, 42);
            rows.push((format!("Zipf({exponent}), 1M keys"), 100_000, keys));
        }
    }

    let mut table = format!(
        "| workload | capacity | {} |\n|---|---:|",
        NAMES.join(" | ")
    );
    table.push_str(&"---:|".repeat(NAMES.len()));
    table.push('\n');
    for (workload, capacity, keys) in &rows {
        let ratios: Vec<String> = policies(*capacity)
            .iter_mut()
            .map(|policy| format!("{:.2}%", hit_ratio(policy.as_mut(), keys)))
            .collect();
        let _ = writeln!(
            table,
            "| {workload} | {capacity} | {} |",
            ratios.join(" | ")
        );
    }
    println!("hit ratio, get then insert on a miss, one thread\n\n{table}");
    if !smoke {
        let out = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/bench/sections/cache-hit-ratio.md");
        let section = format!(
            "## cache hit ratio\n\nOne thread, `get` then `insert` on a miss, every key one request \
             (`benches/benches/cache_hit_ratio.rs`; OPT and exact LRU for the traces are in \
             `shared/data/traces/README.md`). Higher is better.\n\n{table}"
        );
        std::fs::create_dir_all(out.parent().expect("the sections directory has a parent"))
            .and_then(|()| std::fs::write(&out, section))
            .expect("target/bench/sections is writable");
        println!("written to {}", out.display());
    }
}
