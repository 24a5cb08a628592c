//! Single-threaded operation sequences against a model: one `VecDeque` log per subscriber plus a
//! count of what it lost, for each overflow policy.

use std::collections::VecDeque;

use proptest::prelude::*;
use stanchion_bus::{Overflow, PublishError, RecvError, Topic, TopicConfig, TryRecvError};

#[derive(Debug, Clone)]
enum Op {
    Publish(u32),
    PublishBatch(Vec<u32>),
    Recv(usize),
    RecvBatch(usize, usize),
    Subscribe,
    Unsubscribe(usize),
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => any::<u32>().prop_map(Op::Publish),
        2 => prop::collection::vec(any::<u32>(), 0..8).prop_map(Op::PublishBatch),
        5 => any::<usize>().prop_map(Op::Recv),
        2 => (any::<usize>(), 0usize..6).prop_map(|(s, max)| Op::RecvBatch(s, max)),
        1 => Just(Op::Subscribe),
        1 => any::<usize>().prop_map(Op::Unsubscribe),
        1 => Just(Op::Close),
    ]
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Published(usize),
    Dropped,
    Full,
    Closed,
}

#[derive(Default)]
struct ModelSub {
    pending: VecDeque<u32>,
    lost: u64,
}

#[derive(Default)]
struct Model {
    subs: Vec<ModelSub>,
    closed: bool,
    published: u64,
    delivered: u64,
    dropped: u64,
    rejected: u64,
    lagged: u64,
}

impl Model {
    fn publish(&mut self, config: TopicConfig, event: u32) -> Outcome {
        if self.closed {
            return Outcome::Closed;
        }
        let full = self.subs.iter().any(|s| s.pending.len() == config.capacity);
        if full {
            match config.overflow {
                Overflow::Block | Overflow::Error => {
                    self.rejected += 1;
                    return Outcome::Full;
                }
                Overflow::DropNewest => {
                    self.dropped += 1;
                    return Outcome::Dropped;
                }
                Overflow::DropOldest => {
                    for sub in &mut self.subs {
                        if sub.pending.len() == config.capacity {
                            sub.pending.pop_front();
                            sub.lost += 1;
                            self.lagged += 1;
                        }
                    }
                }
            }
        }
        for sub in &mut self.subs {
            sub.pending.push_back(event);
        }
        self.published += 1;
        Outcome::Published(self.subs.len())
    }

    fn recv(&mut self, at: usize, max: usize) -> Result<Vec<u32>, TryRecvError> {
        let sub = &mut self.subs[at];
        if max == 0 {
            return Ok(Vec::new());
        }
        if sub.lost > 0 {
            return Err(TryRecvError::Lagged(std::mem::take(&mut sub.lost)));
        }
        let n = max.min(sub.pending.len());
        if n == 0 {
            return Err(if self.closed {
                TryRecvError::Closed
            } else {
                TryRecvError::Empty
            });
        }
        self.delivered += n as u64;
        Ok(sub.pending.drain(..n).collect())
    }
}

fn run(config: TopicConfig, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let topic = Topic::<u32>::new("model", config).unwrap();
    let mut subs: Vec<stanchion_bus::Subscriber<u32>> = Vec::new();
    let mut model = Model::default();
    for op in ops {
        match op {
            Op::Publish(event) => {
                let got = match topic.try_publish(event) {
                    Ok(0)
                        if config.overflow == Overflow::DropNewest
                            && model
                                .subs
                                .iter()
                                .any(|s| s.pending.len() == config.capacity) =>
                    {
                        Outcome::Dropped
                    }
                    Ok(n) => Outcome::Published(n),
                    Err(PublishError::Full(back)) => {
                        prop_assert_eq!(back, event);
                        Outcome::Full
                    }
                    Err(PublishError::Closed(back)) => {
                        prop_assert_eq!(back, event);
                        Outcome::Closed
                    }
                };
                prop_assert_eq!(got, model.publish(config, event));
            }
            Op::PublishBatch(events) => {
                let mut published = 0;
                // A closed topic refuses even an empty batch.
                let mut refused = model.closed.then(|| (false, events.clone()));
                let open = if model.closed {
                    &events[..0]
                } else {
                    &events[..]
                };
                for (i, &event) in open.iter().enumerate() {
                    match model.publish(config, event) {
                        Outcome::Published(_) => published += 1,
                        Outcome::Dropped => {}
                        refusal => {
                            let full = refusal == Outcome::Full;
                            // Every event handed back counts as rejected, not just the first.
                            if full {
                                model.rejected += (events.len() - i - 1) as u64;
                            }
                            refused = Some((full, events[i..].to_vec()));
                            break;
                        }
                    }
                }
                match (topic.try_publish_batch(events.clone()), refused) {
                    (Ok(n), None) => prop_assert_eq!(n, published),
                    (Err(PublishError::Full(rest)), Some((true, expected))) => {
                        prop_assert_eq!(rest, expected)
                    }
                    (Err(PublishError::Closed(rest)), Some((false, expected))) => {
                        prop_assert_eq!(rest, expected)
                    }
                    (got, expected) => prop_assert!(false, "{got:?} vs {expected:?}"),
                }
            }
            Op::Recv(at) if !subs.is_empty() => {
                let at = at % subs.len();
                let got = subs[at].try_recv().map(|e| vec![e]);
                prop_assert_eq!(got, model.recv(at, 1));
            }
            Op::RecvBatch(at, max) if !subs.is_empty() => {
                let at = at % subs.len();
                let mut out = Vec::new();
                let got = subs[at].try_recv_batch(&mut out, max).map(|n| {
                    assert_eq!(n, out.len());
                    out
                });
                let expected = match model.recv(at, max) {
                    Err(TryRecvError::Empty) => Ok(Vec::new()),
                    Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
                    Err(TryRecvError::Closed) => Err(RecvError::Closed),
                    Ok(events) => Ok(events),
                };
                prop_assert_eq!(got, expected);
            }
            Op::Subscribe => {
                subs.push(topic.subscribe());
                model.subs.push(ModelSub::default());
            }
            Op::Unsubscribe(at) if !subs.is_empty() => {
                let at = at % subs.len();
                drop(subs.remove(at));
                model.subs.remove(at);
            }
            Op::Close => {
                topic.close();
                model.closed = true;
            }
            _ => {}
        }
        let stats = topic.stats();
        prop_assert_eq!(stats.published, model.published);
        prop_assert_eq!(stats.delivered, model.delivered);
        prop_assert_eq!(stats.dropped, model.dropped);
        prop_assert_eq!(stats.rejected, model.rejected);
        prop_assert_eq!(stats.lagged, model.lagged);
        prop_assert_eq!(stats.subscribers, model.subs.len());
    }
    Ok(())
}

fn policy_case(overflow: Overflow) -> impl Strategy<Value = (TopicConfig, Vec<Op>)> {
    (1usize..6, prop::collection::vec(op(), 0..120))
        .prop_map(move |(capacity, ops)| (TopicConfig::new(capacity, overflow), ops))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn block_matches_the_model((config, ops) in policy_case(Overflow::Block)) {
        run(config, ops)?;
    }

    #[test]
    fn drop_oldest_matches_the_model((config, ops) in policy_case(Overflow::DropOldest)) {
        run(config, ops)?;
    }

    #[test]
    fn drop_newest_matches_the_model((config, ops) in policy_case(Overflow::DropNewest)) {
        run(config, ops)?;
    }

    #[test]
    fn error_matches_the_model((config, ops) in policy_case(Overflow::Error)) {
        run(config, ops)?;
    }
}
