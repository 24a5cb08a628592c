//! The registry makes each named breaker once, whoever asks first and however many ask at once.

use std::collections::HashSet;
use std::sync::{Arc, Barrier};

use stanchion_breaker::*;

#[test]
fn concurrent_first_use_makes_one_breaker() {
    let registry = Arc::new(BreakerRegistry::new(BreakerConfig::default()).unwrap());
    let start = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (registry, start) = (Arc::clone(&registry), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                let breaker = registry.breaker("hook.session_start");
                // Each caller's failure lands in the one shared window.
                breaker.try_acquire().unwrap().failure();
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    assert_eq!(registry.names(), [Arc::from("hook.session_start")]);
    assert_eq!(
        registry
            .get("hook.session_start")
            .unwrap()
            .metrics()
            .failed_calls,
        8
    );
}

#[test]
fn named_configs_apply_once_and_errors_name_the_problem() {
    let registry = BreakerRegistry::new(BreakerConfig::balanced()).unwrap();
    registry
        .add_config("strict", BreakerConfig::production_optimized())
        .unwrap();
    let strict = registry.breaker_with("payments", "strict").unwrap();
    assert_eq!(strict.config(), &BreakerConfig::production_optimized());
    // The breaker exists: asking again with another config returns it unchanged.
    assert_eq!(
        registry
            .breaker_with("payments", "missing")
            .unwrap()
            .config(),
        &BreakerConfig::production_optimized()
    );
    assert_eq!(
        registry.breaker_with("search", "missing").unwrap_err(),
        RegistryError::UnknownConfig("missing".into())
    );
    let bad = BreakerConfig {
        minimum_calls: 0,
        ..BreakerConfig::default()
    };
    assert_eq!(
        registry
            .add_config("bad", bad.clone())
            .unwrap_err()
            .to_string(),
        "configuration \"bad\": invalid breaker configuration: minimum_calls is 0, expected at least 1"
    );
    assert!(BreakerRegistry::new(bad).is_err());
    let names: HashSet<_> = registry.names().into_iter().collect();
    assert_eq!(names, HashSet::from([Arc::from("payments")]));
    assert_eq!(
        registry.breaker("other").config(),
        &BreakerConfig::balanced()
    );
}
