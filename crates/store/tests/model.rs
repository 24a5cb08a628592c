//! Claims against a model: the runnable jobs sorted by (priority descending, run_at, id).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use stanchion_core::{Clock, ManualClock};
use stanchion_store::{JobId, JobStore, MemoryStore, NewJob};

#[derive(Debug, Clone)]
enum Op {
    Insert { priority: i16, delay: u64 },
    Claim(usize),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (-3i16..3, prop_oneof![Just(0u64), 0u64..30])
            .prop_map(|(priority, delay)| Op::Insert { priority, delay }),
        2 => (0usize..4).prop_map(Op::Claim),
        1 => (0u64..20).prop_map(Op::Advance),
    ]
}

proptest! {
    #[test]
    fn claims_follow_the_sorted_model(ops in prop::collection::vec(op(), 0..80)) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let clock = ManualClock::with_wall(SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 30));
            let store = MemoryStore::with_clock(Arc::new(clock.clone()));
            // (priority, run_at, id) of jobs not yet claimed.
            let mut model: Vec<(i16, SystemTime, JobId)> = Vec::new();
            for op in ops {
                match op {
                    Op::Insert { priority, delay } => {
                        let job = store
                            .insert(NewJob::new("m", vec![]).priority(priority).delay(Duration::from_secs(delay)))
                            .await
                            .unwrap();
                        model.push((priority, job.run_at, job.id));
                    }
                    Op::Claim(max) => {
                        let now = clock.wall();
                        let mut runnable: Vec<_> = model.iter().copied().filter(|j| j.1 <= now).collect();
                        runnable.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
                        let expected: Vec<JobId> = runnable.iter().take(max).map(|j| j.2).collect();
                        let got: Vec<JobId> = store
                            .claim("w", max, Duration::from_secs(60))
                            .await
                            .unwrap()
                            .iter()
                            .map(|j| j.id)
                            .collect();
                        prop_assert_eq!(&got, &expected);
                        model.retain(|j| !got.contains(&j.2));
                    }
                    Op::Advance(secs) => clock.advance(Duration::from_secs(secs)),
                }
            }
            Ok(())
        })?;
    }
}
