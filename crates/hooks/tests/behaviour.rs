//! The executor's contract, one behaviour per test.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use stanchion_breaker::{BreakerConfig, SlidingWindow, State, WaitInOpen};
use stanchion_bus::{Overflow, Topic, TopicConfig};
use stanchion_core::ManualClock;
use stanchion_hooks::{
    Action, FailurePolicy, Hook, HookError, HookEvent, HookExecutor, HookOptions, HookRegistry,
    HookResult, Mode, Outcome, PointConfig, RegisterError, RunError, RunStatus,
};

type Trace = Vec<&'static str>;

/// A sync hook that appends `name` to the context.
fn append(registry: &HookRegistry<Trace>, point: &str, name: &'static str, options: HookOptions) {
    registry
        .register_fn(
            point,
            move |trace: &Trace| {
                let mut trace = trace.clone();
                trace.push(name);
                Ok(Action::Modify(trace))
            },
            HookOptions {
                name: name.into(),
                ..options
            },
        )
        .unwrap();
}

fn opts() -> HookOptions {
    HookOptions::new("unnamed")
}

/// Options with a result cache of a minute.
fn caching(name: &'static str) -> HookOptions {
    HookOptions {
        cache_ttl: Some(Duration::from_secs(60)),
        ..HookOptions::new(name)
    }
}

/// Registers a sync hook that answers with `answer` and counts its calls in what it returns.
fn counted(
    registry: &HookRegistry<Trace>,
    point: &str,
    options: HookOptions,
    answer: impl Fn(&Trace) -> HookResult<Trace> + Send + Sync + 'static,
) -> Arc<AtomicUsize> {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    registry
        .register_fn(
            point,
            move |trace| {
                counter.fetch_add(1, Ordering::SeqCst);
                answer(trace)
            },
            options,
        )
        .unwrap();
    calls
}

fn names(report: &stanchion_hooks::RunReport<Trace>) -> Vec<&str> {
    report.hooks.iter().map(|run| &*run.name).collect()
}

#[tokio::test]
async fn lower_priority_runs_first_and_ties_keep_registration_order() {
    let registry = HookRegistry::new();
    for (name, priority) in [("b1", 5), ("a", -1), ("b2", 5), ("c", 9), ("b3", 5)] {
        append(&registry, "p", name, HookOptions { priority, ..opts() });
    }

    let report = HookExecutor::new(registry).run("p", vec![]).await.unwrap();
    assert_eq!(
        report.context,
        ["a", "b1", "b2", "b3", "c"],
        "each saw the last one's change"
    );
    assert_eq!(names(&report), ["a", "b1", "b2", "b3", "c"]);
    assert!(report.is_success());
}

#[tokio::test]
async fn a_cancel_stops_the_waterfall_and_keeps_earlier_changes() {
    let registry = HookRegistry::new();
    append(&registry, "p", "first", opts());
    registry
        .register_fn(
            "p",
            |trace: &Trace| {
                assert_eq!(trace, &["first"], "sees the modification before it");
                Ok(Action::cancel("no more"))
            },
            HookOptions::new("gate"),
        )
        .unwrap();
    append(&registry, "p", "never", opts());

    let report = HookExecutor::new(registry).run("p", vec![]).await.unwrap();
    assert_eq!(
        report.status,
        RunStatus::Cancelled {
            by: "gate".into(),
            reason: "no more".into()
        }
    );
    assert_eq!(report.context, ["first"]);
    assert_eq!(names(&report), ["first", "gate"]);
}

fn failing(registry: &HookRegistry<Trace>, name: &'static str) {
    registry
        .register_fn(
            "p",
            |_: &Trace| Err(HookError::new("disk full")),
            HookOptions::new(name),
        )
        .unwrap();
}

#[tokio::test]
async fn failures_continue_or_bail_as_the_policy_says() {
    let registry = HookRegistry::new();
    append(&registry, "p", "before", opts());
    failing(&registry, "broken");
    append(&registry, "p", "after", opts());

    let report = HookExecutor::new(registry.clone())
        .run("p", vec![])
        .await
        .unwrap();
    assert_eq!(
        report.status,
        RunStatus::Failed {
            by: "broken".into()
        }
    );
    assert_eq!(report.context, ["before", "after"], "the rest ran");
    let Outcome::Failed(error) = &report.hooks[1].outcome else {
        panic!("{:?}", report.hooks[1]);
    };
    assert_eq!(error.to_string(), "disk full");
    assert_eq!(report.failures().count(), 1);

    let bail = HookExecutor::builder(registry.clone())
        .failure_policy(FailurePolicy::Bail)
        .build()
        .unwrap();
    let report = bail.run("p", vec![]).await.unwrap();
    assert_eq!(
        report.status,
        RunStatus::Failed {
            by: "broken".into()
        }
    );
    assert_eq!(report.context, ["before"]);
    assert_eq!(names(&report), ["before", "broken"]);
    assert_eq!(registry.hook_metrics("p", "broken").unwrap().failures, 2);
}

#[tokio::test]
async fn a_panicking_hook_is_a_failure_not_a_crash() {
    let registry = HookRegistry::<Trace>::new();
    registry
        .register_fn("p", |_| panic!("plugin bug"), HookOptions::new("sync"))
        .unwrap();
    struct Panics;
    impl Hook<Trace> for Panics {
        async fn call(&self, _: &Trace) -> HookResult<Trace> {
            tokio::task::yield_now().await;
            panic!("async plugin bug")
        }
    }
    registry
        .register("p", Panics, HookOptions::new("async"))
        .unwrap();

    let report = HookExecutor::new(registry).run("p", vec![]).await.unwrap();
    let messages: Vec<_> = report
        .hooks
        .iter()
        .map(|run| run.outcome.to_string())
        .collect();
    assert_eq!(
        messages,
        [
            "failed: hook panicked: plugin bug",
            "failed: hook panicked: async plugin bug"
        ]
    );
}

/// An async hook that sleeps, then appends its name.
struct Sleeper {
    name: &'static str,
    sleep: Duration,
    finished: Arc<AtomicUsize>,
}

impl Hook<Trace> for Sleeper {
    async fn call(&self, trace: &Trace) -> HookResult<Trace> {
        tokio::time::sleep(self.sleep).await;
        self.finished.fetch_add(1, Ordering::SeqCst);
        let mut trace = trace.clone();
        trace.push(self.name);
        Ok(Action::Modify(trace))
    }
}

#[tokio::test(start_paused = true)]
async fn parallel_hooks_run_at_once_and_merge_in_priority_order() {
    let registry = HookRegistry::new();
    registry.configure_point(
        "p",
        PointConfig::new()
            .mode(Mode::Parallel)
            .merge(|all: &mut Trace, mine| all.extend(mine)),
    );
    let finished = Arc::new(AtomicUsize::new(0));
    // The slowest has the lowest priority: its result still comes first.
    for (name, priority, millis) in [("slow", 0, 300), ("quick", 1, 100), ("middle", 2, 200)] {
        let hook = Sleeper {
            name,
            sleep: Duration::from_millis(millis),
            finished: Arc::clone(&finished),
        };
        registry
            .register(
                "p",
                hook,
                HookOptions {
                    priority,
                    ..HookOptions::new(name)
                },
            )
            .unwrap();
    }

    let started = tokio::time::Instant::now();
    let report = HookExecutor::new(registry)
        .run("p", vec!["in"])
        .await
        .unwrap();
    assert_eq!(
        started.elapsed(),
        Duration::from_millis(300),
        "concurrent, not 600 ms"
    );
    assert_eq!(names(&report), ["slow", "quick", "middle"]);
    assert_eq!(
        report.context,
        ["in", "in", "slow", "in", "quick", "in", "middle"],
        "each saw the input, and merged in priority order"
    );
}

#[tokio::test(start_paused = true)]
async fn a_parallel_cancel_discards_the_modifications() {
    let registry = HookRegistry::new();
    registry.configure_point("p", PointConfig::new().mode(Mode::Parallel));
    append(&registry, "p", "changes", opts());
    registry
        .register_fn(
            "p",
            |_| Ok(Action::cancel("stop")),
            HookOptions::new("stops"),
        )
        .unwrap();
    append(&registry, "p", "changes-too", opts());

    let report = HookExecutor::new(registry).run("p", vec![]).await.unwrap();
    assert_eq!(report.context, Trace::new());
    assert_eq!(
        names(&report),
        ["changes", "stops", "changes-too"],
        "all ran"
    );
    assert!(matches!(report.status, RunStatus::Cancelled { by, .. } if &*by == "stops"));
}

#[tokio::test(start_paused = true)]
async fn an_async_hook_past_its_timeout_is_cancelled_and_counts_against_its_breaker() {
    let registry = HookRegistry::new();
    let finished = Arc::new(AtomicUsize::new(0));
    let breaker = BreakerConfig {
        minimum_calls: 2,
        sliding_window: SlidingWindow::Count(2),
        wait_in_open: WaitInOpen::fixed(Duration::from_secs(60)),
        ..BreakerConfig::default()
    };
    let hook = Sleeper {
        name: "slow",
        sleep: Duration::from_secs(10),
        finished: Arc::clone(&finished),
    };
    registry
        .register(
            "p",
            hook,
            HookOptions {
                timeout: Some(Duration::from_millis(50)),
                breaker: Some(breaker),
                ..HookOptions::new("slow")
            },
        )
        .unwrap();
    let executor = HookExecutor::new(registry.clone());

    let started = tokio::time::Instant::now();
    let report = executor.run("p", vec![]).await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_millis(50), "not 10 s");
    assert_eq!(
        report.hooks[0].outcome,
        Outcome::TimedOut(Duration::from_millis(50))
    );
    assert_eq!(report.status, RunStatus::Failed { by: "slow".into() });
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(
        finished.load(Ordering::SeqCst),
        0,
        "the hook was dropped, not left running"
    );

    executor.run("p", vec![]).await.unwrap();
    assert_eq!(registry.breaker("p", "slow").unwrap().state(), State::Open);
    let report = executor.run("p", vec![]).await.unwrap();
    assert!(
        matches!(report.hooks[0].outcome, Outcome::Rejected(_)),
        "an open breaker is reported, not silently skipped: {:?}",
        report.hooks[0]
    );
    assert_eq!(
        report.status,
        RunStatus::Completed,
        "rejections do not fail runs by default"
    );
    assert_eq!(finished.load(Ordering::SeqCst), 0);

    let strict = HookExecutor::builder(registry.clone())
        .rejection_fails_run(true)
        .build()
        .unwrap();
    let report = strict.run("p", vec![]).await.unwrap();
    assert_eq!(report.status, RunStatus::Failed { by: "slow".into() });

    let metrics = registry.hook_metrics("p", "slow").unwrap();
    assert_eq!((metrics.timeouts, metrics.rejections), (2, 2));
    assert_eq!(metrics.latency.count, 2);
    assert!(
        metrics.latency.max >= Duration::from_millis(50),
        "a timed-out call took its whole allowance: {:?}",
        metrics.latency
    );
    let point = registry.point_metrics("p").unwrap();
    assert_eq!((point.hook_timeouts, point.hook_rejections), (2, 2));
    assert_eq!(point.failed, 3, "two timeouts and the strict rejection");
}

#[tokio::test]
async fn a_sync_hook_that_overran_has_its_result_discarded() {
    let clock = ManualClock::new();
    let registry = HookRegistry::builder().clock(clock.clone()).build();
    registry
        .register_fn(
            "p",
            move |_: &Trace| {
                clock.advance(Duration::from_millis(30));
                Ok(Action::Modify(vec!["late"]))
            },
            HookOptions {
                timeout: Some(Duration::from_millis(20)),
                latency_threshold: Duration::from_millis(25),
                ..HookOptions::new("blocking")
            },
        )
        .unwrap();
    let report = HookExecutor::new(registry.clone())
        .run("p", vec![])
        .await
        .unwrap();
    assert_eq!(
        report.hooks[0].outcome,
        Outcome::TimedOut(Duration::from_millis(20))
    );
    assert_eq!(report.hooks[0].elapsed, Duration::from_millis(30));
    assert_eq!(report.context, Trace::new());
    let metrics = registry.hook_metrics("p", "blocking").unwrap();
    assert_eq!(metrics.threshold_violations, 1);
    assert_eq!(metrics.latency.max, Duration::from_millis(30));
}

#[tokio::test]
async fn a_hook_is_not_charged_for_the_digest_or_the_hooks_before_it() {
    let clock = ManualClock::new();
    let slow_digest = clock.clone();
    let registry = HookRegistry::builder()
        .clock(clock.clone())
        .digest(move |_: &Trace| {
            slow_digest.advance(Duration::from_millis(50));
            1
        })
        .build();
    let quick = |name| HookOptions {
        timeout: Some(Duration::from_millis(10)),
        ..HookOptions::new(name)
    };
    append(
        &registry,
        "p",
        "cached",
        HookOptions {
            timeout: Some(Duration::from_millis(10)),
            ..caching("cached")
        },
    );
    append(&registry, "p", "after", quick("after"));
    let executor = HookExecutor::new(registry.clone());

    for _ in 0..2 {
        let report = executor.run("p", vec![]).await.unwrap();
        assert!(report.is_success(), "{report:?}");
        assert!(report.hooks.iter().all(|run| run.elapsed == Duration::ZERO));
    }
}

#[tokio::test]
async fn each_hook_has_one_breaker_made_at_registration_that_trips_on_failures() {
    let registry = HookRegistry::new();
    let config = BreakerConfig {
        minimum_calls: 3,
        sliding_window: SlidingWindow::Count(3),
        ..BreakerConfig::default()
    };
    failing(&registry, "broken");
    registry
        .register_fn(
            "p",
            |_| Ok(Action::Continue),
            HookOptions {
                breaker: Some(config),
                ..HookOptions::new("healthy")
            },
        )
        .unwrap();
    let breaker = registry.breaker("p", "broken").unwrap();
    let executor = HookExecutor::new(registry.clone());

    // The default breaker config needs 100 calls before it judges.
    for _ in 0..99 {
        executor.run("p", vec![]).await.unwrap();
        assert_eq!(breaker.state(), State::Closed);
    }
    executor.run("p", vec![]).await.unwrap();
    assert_eq!(
        breaker.state(),
        State::Open,
        "the same breaker saw all 100 calls"
    );
    assert_eq!(
        registry.breaker("p", "healthy").unwrap().state(),
        State::Closed
    );
    assert_eq!(breaker.metrics().failed_calls, 100);

    let report = executor.run("p", vec![]).await.unwrap();
    assert!(matches!(report.hooks[0].outcome, Outcome::Rejected(_)));
    assert_eq!(report.hooks[1].outcome, Outcome::Continued);

    registry
        .register_fn(
            "p",
            |_| Ok(Action::Continue),
            HookOptions {
                breaker: None,
                ..HookOptions::new("unguarded")
            },
        )
        .unwrap();
    assert!(registry.breaker("p", "unguarded").is_none());
}

#[tokio::test]
async fn cached_results_skip_the_call_until_the_ttl_passes() {
    let clock = ManualClock::new();
    let registry = HookRegistry::builder()
        .clock(clock.clone())
        .digest(|trace: &Trace| trace.len() as u64)
        .build();
    let calls = counted(
        &registry,
        "p",
        HookOptions {
            cache_ttl: Some(Duration::from_secs(10)),
            ..HookOptions::new("lookup")
        },
        |trace| {
            let mut trace = trace.clone();
            trace.push("looked-up");
            Ok(Action::Modify(trace))
        },
    );
    let executor = HookExecutor::new(registry.clone());

    let first = executor.run("p", vec![]).await.unwrap();
    let second = executor.run("p", vec![]).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(!first.hooks[0].cached && second.hooks[0].cached);
    assert_eq!(
        second.context,
        ["looked-up"],
        "the cached modification applies"
    );

    executor.run("p", vec!["other"]).await.unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "another input is another key"
    );

    clock.advance(Duration::from_secs(10));
    executor.run("p", vec![]).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3, "expired");
    assert_eq!(registry.hook_metrics("p", "lookup").unwrap().cache_hits, 1);
}

#[tokio::test]
async fn errors_are_not_cached() {
    let registry = HookRegistry::builder().digest(|_: &Trace| 0).build();
    let calls = counted(&registry, "p", caching("flaky"), |_| {
        Err(HookError::new("flaky"))
    });
    let executor = HookExecutor::new(registry);
    executor.run("p", vec![]).await.unwrap();
    executor.run("p", vec![]).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_modification_changes_the_cache_key_of_later_hooks() {
    let hasher = std::hash::RandomState::new();
    let registry = HookRegistry::builder()
        .digest(move |trace: &Trace| std::hash::BuildHasher::hash_one(&hasher, trace))
        .build();
    append(&registry, "p", "a", caching("a"));
    append(&registry, "p", "b", caching("b"));
    let executor = HookExecutor::new(registry.clone());

    registry.set_hook_enabled("p", "a", false);
    assert_eq!(executor.run("p", vec![]).await.unwrap().context, ["b"]);
    registry.set_hook_enabled("p", "a", true);
    let report = executor.run("p", vec![]).await.unwrap();
    assert_eq!(
        report.context,
        ["a", "b"],
        "b's input is a's output, not the run's input"
    );
    assert!(!report.hooks[1].cached);
}

#[tokio::test(start_paused = true)]
async fn parallel_runs_time_out_cache_and_name_the_first_cancel() {
    let registry = HookRegistry::builder().digest(|_: &Trace| 7).build();
    registry.configure_point("p", PointConfig::new().mode(Mode::Parallel));
    let finished = Arc::new(AtomicUsize::new(0));
    let slow = Sleeper {
        name: "slow",
        sleep: Duration::from_secs(5),
        finished: Arc::clone(&finished),
    };
    registry
        .register(
            "p",
            slow,
            HookOptions {
                timeout: Some(Duration::from_millis(100)),
                ..HookOptions::new("slow")
            },
        )
        .unwrap();
    let calls = counted(&registry, "p", caching("a"), |_| {
        Ok(Action::cancel("first"))
    });
    registry
        .register_fn("p", |_| Ok(Action::cancel("second")), HookOptions::new("b"))
        .unwrap();
    let executor = HookExecutor::new(registry);

    for round in 0..2 {
        let started = tokio::time::Instant::now();
        let report = executor.run("p", vec![]).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_millis(100));
        assert_eq!(
            report.hooks[0].outcome,
            Outcome::TimedOut(Duration::from_millis(100))
        );
        assert_eq!(report.hooks[1].cached, round == 1);
        assert_eq!(
            report.status,
            RunStatus::Cancelled {
                by: "a".into(),
                reason: "first".into()
            },
            "the first cancel in priority order decides"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(finished.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn disabled_hooks_and_a_disabled_registry_run_nothing() {
    let registry = HookRegistry::new();
    append(&registry, "p", "a", opts());
    append(
        &registry,
        "p",
        "off",
        HookOptions {
            enabled: false,
            ..opts()
        },
    );
    append(&registry, "p", "b", opts());
    let executor = HookExecutor::new(registry.clone());

    assert_eq!(executor.run("p", vec![]).await.unwrap().context, ["a", "b"]);
    assert!(registry.set_hook_enabled("p", "off", true));
    assert!(registry.set_hook_enabled("p", "a", false));
    assert!(!registry.set_hook_enabled("p", "missing", true));
    assert_eq!(
        executor.run("p", vec![]).await.unwrap().context,
        ["off", "b"]
    );

    let handle = registry
        .register_fn("p", |_| Ok(Action::Continue), HookOptions::new("by-handle"))
        .unwrap();
    assert!(handle.set_enabled(false));
    assert_eq!(
        names(&executor.run("p", vec![]).await.unwrap()),
        ["off", "b"]
    );
    assert!(handle.set_enabled(true));
    assert_eq!(
        names(&executor.run("p", vec![]).await.unwrap()),
        ["off", "b", "by-handle"]
    );

    let runs = registry.point_metrics("p").unwrap().latency.count;
    registry.set_enabled(false);
    let report = executor.run("p", vec![]).await.unwrap();
    assert!(report.hooks.is_empty() && report.context.is_empty());
    assert_eq!(
        registry.point_metrics("p").unwrap().latency.count,
        runs,
        "a run with hooks off is not a run of the point"
    );
    assert!(handle.unregister());
    assert!(!handle_of(&registry).set_enabled(true), "gone");
}

/// A handle to a hook that was never registered under it: registered, then removed.
fn handle_of(registry: &HookRegistry<Trace>) -> stanchion_hooks::HookHandle<Trace> {
    let handle = registry
        .register_fn(
            "p",
            |_| Ok(Action::Continue),
            HookOptions::new("short-lived"),
        )
        .unwrap();
    registry.unregister("p", "short-lived");
    handle
}

#[test]
fn removing_from_a_missing_point_leaves_the_registry_as_it_was() {
    let registry = HookRegistry::<Trace>::new();
    assert!(!registry.unregister("ghost", "x"));
    assert!(!registry.set_hook_enabled("ghost", "x", true));
    assert!(registry.points().is_empty());
    assert!(registry.point_metrics("ghost").is_none());
}

#[tokio::test(start_paused = true)]
async fn unregistering_during_a_run_lets_that_run_finish_with_its_hooks() {
    let registry = HookRegistry::new();
    let finished = Arc::new(AtomicUsize::new(0));
    let hook = Sleeper {
        name: "slow",
        sleep: Duration::from_millis(100),
        finished: Arc::clone(&finished),
    };
    registry
        .register("p", hook, HookOptions::new("slow"))
        .unwrap();
    let handle = registry
        .register_fn("p", |_| Ok(Action::Continue), HookOptions::new("later"))
        .unwrap();
    let executor = Arc::new(HookExecutor::new(registry.clone()));

    let run = tokio::spawn({
        let executor = Arc::clone(&executor);
        async move { executor.run("p", vec![]).await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(
        handle.unregister(),
        "removed while the run is inside `slow`"
    );
    assert!(!registry.unregister("p", "later"), "already gone");

    let report = run.await.unwrap();
    assert_eq!(
        names(&report),
        ["slow", "later"],
        "the run kept its snapshot"
    );
    let report = executor.run("p", vec![]).await.unwrap();
    assert_eq!(names(&report), ["slow"]);
}

#[tokio::test]
async fn a_validator_refuses_bad_input_before_any_hook_runs() {
    let registry = HookRegistry::new();
    let calls = counted(&registry, "pre_tool_use", HookOptions::new("h"), |_| {
        Ok(Action::Continue)
    });
    registry.configure_point(
        "pre_tool_use",
        PointConfig::new().validator(|trace: &Trace| {
            if trace.is_empty() {
                Err("the trace is empty".into())
            } else {
                Ok(())
            }
        }),
    );
    let executor = HookExecutor::new(registry.clone());

    let error = executor.run("pre_tool_use", vec![]).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        r#"invalid input for point "pre_tool_use": the trace is empty"#
    );
    assert!(matches!(error, RunError::Invalid { .. }));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    executor.run("pre_tool_use", vec!["ok"]).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        registry.hooks("pre_tool_use"),
        ["h".into()],
        "configuring kept the hooks"
    );
    assert_eq!(registry.point_metrics("pre_tool_use").unwrap().invalid, 1);
}

#[test]
fn bad_options_are_refused_at_registration_naming_the_problem() {
    let registry = HookRegistry::<Trace>::new();
    let ok = |_: &Trace| Ok(Action::Continue);
    registry
        .register_fn("p", ok, HookOptions::new("h"))
        .unwrap();

    let cases = [
        (
            HookOptions::new(""),
            r#"hook on point "p" has an empty name"#,
        ),
        (
            HookOptions::new("h"),
            r#"point "p" already has a hook named "h""#,
        ),
        (
            HookOptions {
                timeout: Some(Duration::ZERO),
                ..HookOptions::new("t")
            },
            r#"hook "t" on point "p": the timeout must be above zero"#,
        ),
        (
            HookOptions {
                cache_ttl: Some(Duration::ZERO),
                ..HookOptions::new("z")
            },
            r#"hook "z" on point "p": the cache TTL must be above zero"#,
        ),
        (
            HookOptions {
                cache_ttl: Some(Duration::from_secs(1)),
                ..HookOptions::new("c")
            },
            r#"hook "c" on point "p" caches results, but the registry has no digest: set RegistryBuilder::digest"#,
        ),
    ];
    for (options, message) in cases {
        let error = registry.register_fn("p", ok, options).unwrap_err();
        assert_eq!(error.to_string(), message);
    }
    let invalid = BreakerConfig {
        failure_rate_threshold: 150.0,
        ..BreakerConfig::default()
    };
    let error = registry
        .register_fn(
            "p",
            ok,
            HookOptions {
                breaker: Some(invalid),
                ..HookOptions::new("b")
            },
        )
        .unwrap_err();
    assert!(matches!(error, RegisterError::Breaker { .. }), "{error}");
    assert_eq!(registry.hooks("p"), ["h".into()], "nothing half-registered");
}

#[tokio::test]
async fn events_reach_the_bus_only_while_someone_listens() {
    let topic = Topic::new("hooks", TopicConfig::new(64, Overflow::DropOldest)).unwrap();
    let registry = HookRegistry::builder().events(topic.clone()).build();
    append(&registry, "p", "ok", opts());
    registry
        .register_fn(
            "p",
            |_| Err(HookError::new("boom")),
            HookOptions {
                breaker: Some(BreakerConfig {
                    minimum_calls: 1,
                    sliding_window: SlidingWindow::Count(1),
                    ..BreakerConfig::default()
                }),
                ..HookOptions::new("bad")
            },
        )
        .unwrap();
    let executor = HookExecutor::new(registry);

    executor.run("p", vec![]).await.unwrap();
    assert_eq!(topic.stats().published, 0, "nobody listened: nothing built");

    registry_breaker_reset(&executor);
    let mut events = topic.subscribe();
    executor.run("p", vec![]).await.unwrap();
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    let summary: Vec<String> = seen
        .iter()
        .map(|event| match event {
            HookEvent::Started { hook, .. } => format!("started {hook}"),
            HookEvent::Finished { hook, .. } => format!("finished {hook}"),
            HookEvent::Failed { hook, reason, .. } => format!("failed {hook}: {reason}"),
            HookEvent::Breaker { hook, from, to, .. } => format!("breaker {hook}: {from} -> {to}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        [
            "started ok",
            "finished ok",
            "started bad",
            "failed bad: failed: boom",
            "breaker bad: closed -> open",
        ]
    );
}

/// Closes the failing hook's breaker, which the first run opened while nobody listened.
fn registry_breaker_reset(executor: &HookExecutor<Trace>) {
    let breaker = executor.registry().breaker("p", "bad").unwrap();
    assert_eq!(breaker.state(), State::Open);
    breaker.reset();
}

#[test]
fn runs_are_send_and_handles_are_shareable() {
    fn send<T: Send>(_: &T) {}
    fn shared<T: Send + Sync>() {}
    shared::<HookRegistry<Trace>>();
    shared::<HookExecutor<Trace>>();
    shared::<stanchion_hooks::HookHandle<Trace>>();
    let executor = HookExecutor::new(HookRegistry::<Trace>::new());
    send(&executor.run("p", vec![]));
}

#[test]
fn a_zero_cache_capacity_is_refused_naming_it() {
    let error = HookExecutor::builder(HookRegistry::<Trace>::new())
        .cache_capacity(0)
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid executor configuration: cache_capacity is 0, expected at least 1"
    );
}
