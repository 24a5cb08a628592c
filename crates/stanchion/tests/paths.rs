//! Calls one thing through every facade path, so a broken re-export fails here and not in a user's build.

use std::time::Duration;

#[test]
fn core_path() {
    use stanchion::core::Clock;
    let clock = stanchion::core::ManualClock::new();
    let start = clock.now();
    clock.advance(Duration::from_millis(5));
    assert_eq!(clock.now() - start, Duration::from_millis(5));
    assert!(
        stanchion::core::SystemClock.now() >= std::time::Instant::now() - Duration::from_secs(1)
    );
}

#[test]
fn prelude_path() {
    use stanchion::prelude::*;
    let clock: &dyn Clock = &SystemClock;
    let _ = clock.wall();
    let _ = ManualClock::new().elapsed();
}
