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

#[cfg(feature = "dag")]
#[test]
fn dag_path() {
    let mut builder = stanchion::dag::Dag::builder();
    builder.add_node("b", ["a"]).add_node("a", []);
    let dag = builder.build().unwrap();
    assert_eq!(dag.name(dag.topo_order()[0]), "a");
    let _: stanchion::prelude::ReadySet<'_> = dag.ready_set();
    let _ = stanchion::prelude::DagBuilder::<u32>::new();
}

#[cfg(feature = "breaker")]
#[test]
fn breaker_path() {
    let breaker =
        stanchion::breaker::CircuitBreaker::new(stanchion::prelude::BreakerConfig::balanced())
            .unwrap();
    let result: Result<u8, stanchion::prelude::CallError<()>> = breaker.call(|| Ok(1));
    assert_eq!(result.unwrap(), 1);
    let _: Option<stanchion::prelude::Rejected> = breaker.try_acquire().err();
}

#[cfg(feature = "bus")]
#[test]
fn bus_path() {
    let bus = stanchion::prelude::EventBus::new();
    let config = stanchion::prelude::TopicConfig::new(4, stanchion::prelude::Overflow::Block);
    let topic: stanchion::prelude::Topic<u8> = bus.topic("t", config).unwrap();
    let mut sub = topic.subscribe();
    topic.try_publish(1).unwrap();
    assert_eq!(sub.try_recv(), Ok(1));
    let _: stanchion::bus::RecvError = stanchion::bus::RecvError::Closed;
}

#[cfg(feature = "cache")]
#[test]
fn cache_path() {
    let cache: stanchion::prelude::Cache<u8, u8> = stanchion::cache::Cache::new(4);
    cache.insert(1, 2);
    assert_eq!(cache.get(&1), Some(2));
    assert_eq!(cache.stats().hits, 1);
}

#[cfg(feature = "hooks")]
#[test]
fn hooks_path() {
    use stanchion::prelude::{Action, HookExecutor, HookOptions, HookRegistry};
    let registry = HookRegistry::<u32>::new();
    registry
        .register_fn("p", |n| Ok(Action::Modify(n + 1)), HookOptions::new("inc"))
        .unwrap();
    let executor = HookExecutor::new(registry);
    let waker = std::task::Waker::noop();
    let run = std::pin::pin!(executor.run("p", 1));
    let std::task::Poll::Ready(Ok(report)) = run.poll(&mut std::task::Context::from_waker(waker))
    else {
        panic!("a run of sync hooks completes at its first poll");
    };
    assert_eq!(report.context, 2);
    let _: stanchion::hooks::RunStatus = report.status;
}

#[cfg(feature = "queue")]
#[test]
fn queue_path() {
    let queue: stanchion::prelude::PriorityQueue<u8> = stanchion::queue::PriorityQueue::new();
    queue
        .try_push(1, stanchion::prelude::Priority::High)
        .unwrap();
    assert_eq!(queue.try_pop(), Some((1, stanchion::queue::Priority::High)));
}

#[cfg(feature = "ring")]
#[test]
fn ring_path() {
    let (producer, mut consumer) = stanchion::prelude::LogRing::builder()
        .capacity(2)
        .build()
        .unwrap();
    let record = stanchion::ring::Record::new(stanchion::ring::Level::Info, "t", b"m");
    producer.push(record).unwrap();
    let mut batch = stanchion::ring::Batch::new();
    assert_eq!(consumer.drain(&mut batch, 2), 1);
    let _: stanchion::prelude::FlushPolicy = stanchion::prelude::FlushPolicy::default();
    let _ = std::mem::size_of::<stanchion::prelude::Flusher>();
    let _ = std::mem::size_of::<stanchion::ring::RingLayer>();
}

#[cfg(feature = "store")]
#[test]
fn store_path() {
    use stanchion::prelude::JobStore as _;

    let store = stanchion::prelude::MemoryStore::new();
    let job = stanchion::prelude::NewJob::new("n", vec![]);
    let state = block_on(store.insert(job)).unwrap().state;
    assert_eq!(state, stanchion::store::JobState::Available);
}

/// Polls a future that never waits (the memory store's) to completion.
#[cfg(feature = "store")]
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}
