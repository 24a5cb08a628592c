//! Configurations read from TOML and JSON, with durations in human units.
#![cfg(feature = "serde")]

use std::time::Duration;

use stanchion_breaker::{
    BreakerConfig, CircuitBreaker, ConsecutiveFailures, SlidingWindow, WaitInOpen,
};

#[test]
fn toml_with_human_durations_and_defaults_for_the_rest() {
    let config: BreakerConfig = toml::from_str(
        r#"
        failure_rate_threshold = 25.0
        slow_call_duration = "250ms"
        sliding_window = { time = "30s" }
        max_wait_in_half_open = "1m"
        wait_in_open = { initial = "5s", multiplier = 2.0, max = "2m" }
        consecutive_failures = { failures = 3, within = "30s" }
        "#,
    )
    .unwrap();
    assert_eq!(
        config,
        BreakerConfig {
            failure_rate_threshold: 25.0,
            slow_call_duration: Duration::from_millis(250),
            sliding_window: SlidingWindow::Time(Duration::from_secs(30)),
            max_wait_in_half_open: Some(Duration::from_secs(60)),
            wait_in_open: WaitInOpen::exponential(
                Duration::from_secs(5),
                2.0,
                Duration::from_secs(120)
            ),
            consecutive_failures: Some(ConsecutiveFailures {
                failures: 3,
                slow_calls: None,
                within: Duration::from_secs(30)
            }),
            ..BreakerConfig::default()
        }
    );
    CircuitBreaker::new(config).unwrap();
}

#[test]
fn json_round_trip_and_invalid_values_fail_at_build() {
    let config = BreakerConfig::conservative();
    let json = serde_json::to_string(&config).unwrap();
    assert!(json.contains(r#""slow_call_duration":"100ms""#), "{json}");
    assert_eq!(
        serde_json::from_str::<BreakerConfig>(&json).unwrap(),
        config
    );

    let zero: BreakerConfig = serde_json::from_str(r#"{"sliding_window": {"count": 0}}"#).unwrap();
    assert_eq!(
        CircuitBreaker::new(zero).unwrap_err().to_string(),
        "invalid breaker configuration: sliding_window is Count(0), expected a count in 1..=1048576"
    );
}
