use std::sync::Arc;
use std::thread;
use std::time::Duration;

use stanchion_bus::{
    BusError, ConfigError, EventBus, Lagged, Overflow, PublishError, RecvError, Topic, TopicConfig,
    TryRecvError,
};

fn topic<E: Clone>(capacity: usize, overflow: Overflow) -> Topic<E> {
    Topic::new("t", TopicConfig::new(capacity, overflow)).unwrap()
}

#[test]
fn the_same_name_with_another_type_is_an_error_naming_both() {
    let bus = EventBus::new();
    bus.topic::<u32>("jobs", TopicConfig::default()).unwrap();
    let err = bus
        .topic::<String>("jobs", TopicConfig::default())
        .unwrap_err();
    assert!(matches!(err, BusError::TypeMismatch { .. }));
    let message = err.to_string();
    assert!(message.contains("`jobs`") && message.contains("u32") && message.contains("String"));
    assert!(matches!(
        bus.lookup::<String>("jobs"),
        Err(BusError::TypeMismatch { .. })
    ));
}

#[test]
fn topics_are_found_by_name_and_shared() {
    let bus = EventBus::new();
    let made = bus.topic::<u32>("a", TopicConfig::default()).unwrap();
    let mut sub = bus.lookup::<u32>("a").unwrap().subscribe();
    made.try_publish(7).unwrap();
    assert_eq!(sub.try_recv(), Ok(7));
    assert_eq!(
        bus.lookup::<u32>("b").unwrap_err(),
        BusError::NotFound("b".into())
    );
    assert_eq!(
        bus.topic::<u32>("a", TopicConfig::new(8, Overflow::Error))
            .unwrap_err()
            .to_string(),
        "stanchion-bus: topic `a` exists with TopicConfig { capacity: 1024, overflow: Block }, \
         not TopicConfig { capacity: 8, overflow: Error }"
    );
    assert_eq!(bus.topic_names(), vec!["a".to_owned()]);
    assert_eq!(bus.stats()[0].1.published, 1);
}

#[test]
fn invalid_configs_fail_with_a_named_error() {
    assert_eq!(
        Topic::<u8>::new("t", TopicConfig::new(0, Overflow::Block)).unwrap_err(),
        ConfigError::ZeroCapacity
    );
    assert!(matches!(
        Topic::<u8>::new("t", TopicConfig::new(usize::MAX, Overflow::Block)),
        Err(ConfigError::CapacityTooLarge { .. })
    ));
    let bus = EventBus::new();
    assert_eq!(
        bus.subscribe_pattern::<u8>("*", TopicConfig::new(4, Overflow::Block))
            .unwrap_err(),
        BusError::Config(ConfigError::PatternMayNotPushBack(Overflow::Block))
    );
}

#[test]
fn capacity_is_exact_not_rounded() {
    let topic = topic::<u32>(3, Overflow::Error);
    let _sub = topic.subscribe();
    for i in 0..3 {
        assert_eq!(topic.try_publish(i), Ok(1));
    }
    assert_eq!(topic.try_publish(3), Err(PublishError::Full(3)));
    assert_eq!(topic.stats().rejected, 1);
}

#[test]
fn without_subscribers_nothing_is_held() {
    let topic = topic::<u32>(1, Overflow::Error);
    for i in 0..10 {
        assert_eq!(topic.try_publish(i), Ok(0));
    }
}

#[test]
fn a_blocked_publisher_waits_for_the_slowest_subscriber() {
    let topic = topic::<u32>(2, Overflow::Block);
    let mut sub = topic.subscribe();
    topic.try_publish_batch([0, 1]).unwrap();
    assert_eq!(topic.try_publish(2), Err(PublishError::Full(2)));
    let publisher = {
        let topic = topic.clone();
        thread::spawn(move || topic.publish_batch_blocking(2..6))
    };
    let mut got = Vec::new();
    while got.len() < 6 {
        sub.recv_batch_blocking(&mut got, 4).unwrap();
    }
    assert_eq!(got, (0..6).collect::<Vec<_>>());
    assert_eq!(publisher.join().unwrap(), Ok(4));
}

#[test]
fn dropping_the_slow_subscriber_unblocks_the_publisher() {
    let topic = topic::<u32>(1, Overflow::Block);
    let slow = topic.subscribe();
    topic.try_publish(0).unwrap();
    let publisher = {
        let topic = topic.clone();
        thread::spawn(move || topic.publish_blocking(1))
    };
    thread::sleep(Duration::from_millis(20));
    drop(slow);
    assert_eq!(publisher.join().unwrap(), Ok(0));
}

#[test]
fn drop_newest_drops_and_counts() {
    let topic = topic::<u32>(2, Overflow::DropNewest);
    let mut sub = topic.subscribe();
    assert_eq!(topic.try_publish_batch(0..5), Ok(2));
    assert_eq!(topic.stats().dropped, 3);
    let mut got = Vec::new();
    sub.try_recv_batch(&mut got, 10).unwrap();
    assert_eq!(got, vec![0, 1]);
}

#[test]
fn drop_oldest_reports_exactly_what_was_lost() {
    let topic = topic::<u32>(3, Overflow::DropOldest);
    let mut fast = topic.subscribe();
    let mut slow = topic.subscribe();
    for i in 0..10 {
        topic.try_publish(i).unwrap();
        assert_eq!(fast.try_recv(), Ok(i));
    }
    assert_eq!(slow.try_recv(), Err(TryRecvError::Lagged(7)));
    assert_eq!(slow.try_recv(), Ok(7));
    assert_eq!(slow.lagged(), 7);
    assert_eq!(fast.lagged(), 0);
    assert_eq!(topic.stats().lagged, 7);
}

#[test]
fn error_hands_back_the_batch_remainder() {
    let topic = topic::<u32>(2, Overflow::Error);
    let _sub = topic.subscribe();
    assert_eq!(
        topic.try_publish_batch(0..5),
        Err(PublishError::Full(vec![2, 3, 4]))
    );
    assert_eq!(topic.stats().rejected, 3);
}

#[test]
fn close_refuses_publishers_and_lets_subscribers_drain() {
    let topic = topic::<u32>(4, Overflow::Block);
    let mut sub = topic.subscribe();
    topic.try_publish(1).unwrap();
    topic.close();
    assert_eq!(topic.try_publish(2), Err(PublishError::Closed(2)));
    assert_eq!(
        topic.publish_batch_blocking([3, 4]),
        Err(PublishError::Closed(vec![3, 4]))
    );
    assert_eq!(sub.recv_blocking(), Ok(1));
    assert_eq!(sub.recv_blocking(), Err(RecvError::Closed));
    assert!(sub.is_closed());
}

#[test]
fn the_topic_closes_when_its_last_handle_goes() {
    let bus = EventBus::new();
    let topic = bus.topic::<u32>("t", TopicConfig::default()).unwrap();
    let mut sub = topic.subscribe();
    drop(topic);
    assert_eq!(sub.try_recv(), Err(TryRecvError::Empty), "the bus holds it");
    assert!(bus.remove_topic("t"));
    assert_eq!(sub.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn a_blocked_subscriber_wakes_on_close() {
    let topic = topic::<u32>(4, Overflow::Block);
    let mut sub = topic.subscribe();
    let receiver = thread::spawn(move || sub.recv_blocking());
    thread::sleep(Duration::from_millis(20));
    topic.close();
    assert_eq!(receiver.join().unwrap(), Err(RecvError::Closed));
}

#[test]
fn pattern_subscriptions_see_matching_topics_old_and_new() {
    let bus = EventBus::new();
    let before = bus
        .topic::<u32>("hook.started", TopicConfig::default())
        .unwrap();
    let other_type = bus
        .topic::<String>("hook.note", TopicConfig::default())
        .unwrap();
    let unmatched = bus
        .topic::<u32>("job.started", TopicConfig::default())
        .unwrap();
    let mut all = bus
        .subscribe_pattern::<u32>("hook.*", TopicConfig::new(16, Overflow::DropOldest))
        .unwrap();
    let after = bus
        .topic::<u32>("hook.finished", TopicConfig::default())
        .unwrap();

    before.try_publish(1).unwrap();
    other_type.try_publish("x".into()).unwrap();
    unmatched.try_publish(2).unwrap();
    after.try_publish(3).unwrap();

    let first = all.try_recv().unwrap();
    assert_eq!((&*first.topic, first.event), ("hook.started", 1));
    let second = all.try_recv().unwrap();
    assert_eq!((&*second.topic, second.event), ("hook.finished", 3));
    assert_eq!(all.try_recv(), Err(TryRecvError::Empty));

    // A dropped pattern subscription is detached; publishing goes on.
    drop(all);
    before.try_publish(4).unwrap();
}

#[test]
fn subscribers_share_arc_events() {
    let topic = topic::<Arc<Vec<u8>>>(4, Overflow::Block);
    let mut a = topic.subscribe();
    let mut b = topic.subscribe();
    let event = Arc::new(vec![0u8; 1 << 20]);
    topic.try_publish(Arc::clone(&event)).unwrap();
    let (ea, eb) = (a.try_recv().unwrap(), b.try_recv().unwrap());
    assert!(Arc::ptr_eq(&ea, &event) && Arc::ptr_eq(&eb, &event));
}

#[test]
fn events_are_dropped_once_overwritten_or_with_the_topic() {
    let topic = topic::<Arc<()>>(2, Overflow::DropOldest);
    let tracker = Arc::new(());
    for _ in 0..10 {
        topic.try_publish(Arc::clone(&tracker)).unwrap();
    }
    // The ring holds at most its slot count (4 for capacity 2 under DropOldest).
    assert!(Arc::strong_count(&tracker) <= 1 + 4);
    drop(topic);
    assert_eq!(Arc::strong_count(&tracker), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_publish_waits_and_async_recv_delivers() {
    let topic = topic::<u32>(2, Overflow::Block);
    let mut sub = topic.subscribe();
    let publisher = {
        let topic = topic.clone();
        tokio::spawn(async move {
            for i in 0..100 {
                topic.publish(i).await.unwrap();
            }
            topic.publish_batch(100..200).await.unwrap()
        })
    };
    let mut got = Vec::new();
    while got.len() < 150 {
        got.push(sub.recv().await.unwrap());
    }
    let mut rest = Vec::new();
    while got.len() + rest.len() < 200 {
        sub.recv_batch(&mut rest, 16).await.unwrap();
    }
    got.extend(rest);
    assert_eq!(got, (0..200).collect::<Vec<_>>());
    assert_eq!(publisher.await.unwrap(), 100);
}

#[tokio::test]
async fn a_subscriber_is_a_stream_that_ends_on_close() {
    use std::future::poll_fn;
    use std::pin::Pin;

    use futures_core::Stream;

    let topic = topic::<u32>(2, Overflow::DropOldest);
    let mut sub = topic.subscribe();
    topic.try_publish_batch(0..5).unwrap();
    topic.close();
    let mut items = Vec::new();
    while let Some(item) = poll_fn(|cx| Pin::new(&mut sub).poll_next(cx)).await {
        items.push(item);
    }
    assert_eq!(items, vec![Err(Lagged(3)), Ok(3), Ok(4)]);
}

#[tokio::test]
async fn a_pending_stream_is_woken_by_a_publish() {
    use std::future::poll_fn;
    use std::pin::Pin;

    use futures_core::Stream;

    let topic = topic::<u32>(2, Overflow::Block);
    let mut sub = topic.subscribe();
    let publisher = {
        let topic = topic.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            topic.publish(9).await
        })
    };
    let item = poll_fn(|cx| Pin::new(&mut sub).poll_next(cx)).await;
    assert_eq!(item, Some(Ok(9)));
    publisher.await.unwrap().unwrap();
}

/// An event whose `Clone` panics on demand.
#[derive(Debug)]
struct Fragile(u32, Arc<std::sync::atomic::AtomicBool>);

impl Clone for Fragile {
    fn clone(&self) -> Self {
        if self.0 == 2 && self.1.load(std::sync::atomic::Ordering::Relaxed) {
            panic!("clone of 2");
        }
        Fragile(self.0, Arc::clone(&self.1))
    }
}

#[test]
fn a_clone_panicking_mid_batch_hands_nothing_out_twice_and_blocks_no_publisher() {
    let armed = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let topic = topic::<Fragile>(4, Overflow::DropOldest);
    let mut sub = topic.subscribe();
    for i in 0..3 {
        topic.try_publish(Fragile(i, Arc::clone(&armed))).unwrap();
    }
    let mut out = Vec::new();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        sub.try_recv_batch(&mut out, 10)
    }));
    assert!(panicked.is_err());
    assert_eq!(out.iter().map(|e| e.0).collect::<Vec<_>>(), vec![0, 1]);
    armed.store(false, std::sync::atomic::Ordering::Relaxed);
    // Publishers overwrite past the subscriber without waiting on it.
    for i in 3..12 {
        topic.try_publish(Fragile(i, Arc::clone(&armed))).unwrap();
    }
    assert_eq!(sub.try_recv().map(|e| e.0), Err(TryRecvError::Lagged(6)));
    assert_eq!(sub.try_recv().map(|e| e.0), Ok(8));
    assert_eq!(sub.delivered(), 3);
}

/// An event whose destructor publishes to its own topic.
#[derive(Clone)]
struct Echo(Option<Topic<Echo>>);

impl Drop for Echo {
    fn drop(&mut self) {
        if let Some(topic) = self.0.take() {
            let _ = topic.try_publish(Echo(None));
        }
    }
}

#[test]
fn event_destructors_run_outside_the_lock() {
    for overflow in [Overflow::DropNewest, Overflow::DropOldest] {
        let topic = topic::<Echo>(1, overflow);
        let _sub = topic.subscribe();
        // Each publish replaces or drops an event whose destructor publishes again.
        for _ in 0..4 {
            topic.try_publish(Echo(Some(topic.clone()))).unwrap();
            topic
                .try_publish_batch([Echo(Some(topic.clone())), Echo(Some(topic.clone()))])
                .unwrap();
        }
    }
}

#[test]
fn has_subscribers_follows_subscribers_and_pattern_subscriptions() {
    let bus = EventBus::new();
    let topic = bus
        .topic::<u32>("hook.started", TopicConfig::default())
        .unwrap();
    assert!(!topic.has_subscribers());

    let sub = topic.subscribe();
    assert!(topic.has_subscribers());
    drop(sub);
    assert!(!topic.has_subscribers());

    let pattern = bus
        .subscribe_pattern::<u32>("hook.*", TopicConfig::new(16, Overflow::DropOldest))
        .unwrap();
    assert!(topic.has_subscribers(), "a matching pattern listens");
    let later = bus
        .topic::<u32>("hook.finished", TopicConfig::default())
        .unwrap();
    assert!(
        later.has_subscribers(),
        "and so it does on topics made after it"
    );
    drop(pattern);
    // A dropped pattern subscription is noticed at the next publish, which it does not receive.
    topic.try_publish(1).unwrap();
    assert!(!topic.has_subscribers());
}
