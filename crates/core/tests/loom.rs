//! loom models of stanchion-core's lock-free handoffs; run by `cargo xtask ci` as
//! `RUSTFLAGS="--cfg stanchion_loom" cargo test --release -p stanchion-core --test loom`.
#![cfg(stanchion_loom)]

use loom::sync::Arc;
use loom::thread;
use stanchion_core::sync::{Reached, SeqPair};

/// Two writers race to replace a pair while a reader reads it: the reader sees only pairs that
/// were written together, and exactly one writer wins each version.
#[test]
fn a_seq_pair_is_never_read_torn() {
    static MID_WRITE: Reached = Reached::new();
    static AFTER_WRITE: Reached = Reached::new();
    loom::model(|| {
        let pair = Arc::new(SeqPair::new());
        assert!(pair.write_if(0, 1, 1));
        let writers: Vec<_> = [2, 3]
            .into_iter()
            .map(|value| {
                let pair = Arc::clone(&pair);
                thread::spawn(move || pair.write_if(2, value, value))
            })
            .collect();
        let seen = pair.read();
        if let Some((first, second)) = seen {
            assert_eq!(first, second, "a torn pair was read");
        }
        MID_WRITE.mark(seen.is_none());
        AFTER_WRITE.mark(seen.is_some_and(|(first, _)| first != 1));
        let wins = writers
            .into_iter()
            .map(|writer| writer.join().unwrap())
            .filter(|&won| won)
            .count();
        assert_eq!(wins, 1, "one writer per version");
        let (first, second) = pair.read().expect("no write is under way");
        assert_eq!(first, second);
        assert_ne!(first, 1, "the winner's pair is read");
    });
    MID_WRITE.assert("where the read met a write under way");
    AFTER_WRITE.assert("where the read saw a racing writer's pair");
}
