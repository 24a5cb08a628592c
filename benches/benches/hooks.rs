//! stanchion-hooks against calling the hooks directly: what the executor costs per hook.
//!
//! The peer, `direct-closures`, is the least a hook system can do: a `Vec` of boxed closures
//! called in order, each result matched to apply the waterfall. Ours runs the same no-op hooks
//! through `HookExecutor::run` with default options, so each call also goes through the hook's
//! circuit breaker, is timed on the clock, recorded in its latency histogram and reported.
//! `stanchion-async` registers them as async hooks (one boxed future per call).
//!
//! Runs of no-op hooks never wait, so each is polled once with a no-op waker: the figures are the
//! executor's cost, not a runtime's.
//!
//! Registration is measured as one register plus one unregister on a point that holds 10 hooks;
//! the peer pushes a boxed closure into a sorted `Vec` and removes it, which is all a registry
//! without snapshots, breakers or metrics would do.

use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use stanchion_benches::OURS;
use stanchion_hooks::{
    Action, Hook, HookError, HookExecutor, HookOptions, HookRegistry, HookResult, RunReport,
};

type Ctx = u64;
type Direct = Box<dyn Fn(&Ctx) -> Result<Action<Ctx>, HookError> + Send + Sync>;

struct NoOp;

impl Hook<Ctx> for NoOp {
    async fn call(&self, _: &Ctx) -> HookResult<Ctx> {
        Ok(Action::Continue)
    }
}

fn executor(hooks: usize, asynchronous: bool) -> HookExecutor<Ctx> {
    let registry = HookRegistry::new();
    for i in 0..hooks {
        let options = HookOptions::new(format!("hook-{i}"));
        if asynchronous {
            registry.register("point", NoOp, options).unwrap();
        } else {
            registry
                .register_fn("point", |_| Ok(Action::Continue), options)
                .unwrap();
        }
    }
    HookExecutor::new(registry)
}

/// Runs `point` to completion; no-op hooks never return `Pending`.
fn run(executor: &HookExecutor<Ctx>, ctx: Ctx) -> RunReport<Ctx> {
    let run = pin!(executor.run("point", ctx));
    match run.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(report) => report.unwrap(),
        Poll::Pending => unreachable!("no-op hooks complete at the first poll"),
    }
}

/// The peer: call each closure, apply its action.
fn direct(hooks: &[Direct], mut ctx: Ctx) -> Ctx {
    for hook in hooks {
        match hook(&ctx) {
            Ok(Action::Continue) | Err(_) => {}
            Ok(Action::Modify(changed)) => ctx = changed,
            Ok(Action::Cancel(_)) => break,
        }
    }
    ctx
}

fn runs(c: &mut Criterion) {
    let mut group = c.benchmark_group("hooks/run");
    for hooks in [1usize, 10] {
        group.throughput(Throughput::Elements(hooks as u64));
        let sync = executor(hooks, false);
        let asynchronous = executor(hooks, true);
        let closures: Vec<Direct> = (0..hooks)
            .map(|_| Box::new(|_: &Ctx| Ok(Action::Continue)) as Direct)
            .collect();
        assert_eq!(run(&sync, 7).hooks.len(), hooks);
        group.bench_function(BenchmarkId::new(OURS, hooks), |b| {
            b.iter(|| run(&sync, black_box(7)))
        });
        group.bench_function(BenchmarkId::new(format!("{OURS}-async"), hooks), |b| {
            b.iter(|| run(&asynchronous, black_box(7)))
        });
        group.bench_function(BenchmarkId::new("direct-closures", hooks), |b| {
            b.iter(|| direct(black_box(&closures), black_box(7)))
        });
    }
    group.finish();
}

fn registration(c: &mut Criterion) {
    let mut group = c.benchmark_group("hooks/register");
    group.throughput(Throughput::Elements(1));
    let registry = executor(10, false).registry().clone();
    group.bench_function(OURS, |b| {
        b.iter(|| {
            let handle = registry
                .register_fn(
                    "point",
                    |_| Ok(Action::Continue),
                    HookOptions::new(black_box("extra")),
                )
                .unwrap();
            handle.unregister()
        })
    });
    let mut sorted: Vec<(i32, Direct)> = (0..10)
        .map(|i| (i, Box::new(|_: &Ctx| Ok(Action::Continue)) as Direct))
        .collect();
    group.bench_function("sorted-vec", |b| {
        b.iter(|| {
            let priority = black_box(5);
            let at = sorted.partition_point(|(p, _)| *p <= priority);
            sorted.insert(at, (priority, Box::new(|_: &Ctx| Ok(Action::Continue))));
            sorted.remove(at)
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = stanchion_benches::criterion();
    targets = runs, registration
}
criterion_main!(benches);
