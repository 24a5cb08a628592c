use std::any::{Any, type_name};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::config::{Overflow, TopicConfig};
use crate::error::{BusError, ConfigError};
use crate::pattern::matches;
use crate::ring::{Forward, Ring};
use crate::stats::TopicStats;
use crate::subscriber::Subscriber;
use crate::topic::Topic;

/// An event from a pattern subscription: the event and the name of the topic it was published on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed<E> {
    /// The topic the event was published on.
    pub topic: Arc<str>,
    /// The event.
    pub event: E,
}

/// A registry of named, typed topics, cheap to clone and shared across threads.
///
/// ```
/// use stanchion_bus::{EventBus, Overflow, TopicConfig};
///
/// let bus = EventBus::new();
/// let started = bus.topic::<String>("hook.started", TopicConfig::default()).unwrap();
/// let finished = bus.topic::<String>("hook.finished", TopicConfig::default()).unwrap();
/// let mut all = bus
///     .subscribe_pattern::<String>("hook.*", TopicConfig::new(64, Overflow::DropOldest))
///     .unwrap();
///
/// started.try_publish("lint".to_owned()).unwrap();
/// finished.try_publish("lint".to_owned()).unwrap();
/// assert_eq!(&*all.try_recv().unwrap().topic, "hook.started");
/// assert_eq!(&*all.try_recv().unwrap().topic, "hook.finished");
///
/// // The same name with another type is an error, not a panic.
/// assert!(bus.topic::<u64>("hook.started", TopicConfig::default()).is_err());
/// ```
#[derive(Clone, Default)]
pub struct EventBus {
    registry: Arc<Mutex<Registry>>,
}

#[derive(Default)]
struct Registry {
    topics: HashMap<Arc<str>, Box<dyn AnyTopic>>,
    patterns: Vec<Box<dyn AnyPattern>>,
}

/// A registered topic of any event type.
trait AnyTopic: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn event_type(&self) -> &'static str;
    fn stats(&self) -> TopicStats;
}

impl<E: Send + Sync + 'static> AnyTopic for Topic<E> {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn event_type(&self) -> &'static str {
        type_name::<E>()
    }

    fn stats(&self) -> TopicStats {
        Topic::stats(self)
    }
}

/// A pattern subscription of any event type.
trait AnyPattern: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn is_live(&self) -> bool;
}

/// Receives copies of the events of every topic of type `E` whose name matches `pattern`.
struct Pattern<E> {
    pattern: String,
    ring: Arc<Ring<Routed<E>>>,
}

impl<E: Clone + Send + Sync + 'static> Forward<E> for Pattern<E> {
    fn forward(&self, topic: &Arc<str>, event: &E) -> bool {
        // DropOldest or DropNewest: never refused while open.
        let _ = self.ring.try_publish(Routed {
            topic: Arc::clone(topic),
            event: event.clone(),
        });
        self.is_live()
    }

    fn is_live(&self) -> bool {
        Pattern::is_live(self)
    }
}

impl<E: Send + Sync + 'static> AnyPattern for Arc<Pattern<E>> {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn is_live(&self) -> bool {
        Pattern::is_live(self)
    }
}

impl<E> Pattern<E> {
    /// A pattern subscription lives as long as its one subscriber, the ring's only other owner.
    fn is_live(&self) -> bool {
        Arc::strong_count(&self.ring) > 1
    }
}

impl EventBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// The topic `name` carrying `E`, created with `config` if it does not exist.
    ///
    /// # Errors
    ///
    /// [`BusError::TypeMismatch`] if `name` carries another type, [`BusError::ConfigMismatch`] if
    /// it was created with another config, [`BusError::Config`] if `config` is invalid.
    pub fn topic<E>(&self, name: &str, config: TopicConfig) -> Result<Topic<E>, BusError>
    where
        E: Clone + Send + Sync + 'static,
    {
        let mut registry = self.registry();
        if let Some(existing) = registry.topics.get(name) {
            let topic = downcast::<E>(name, existing.as_ref())?;
            if topic.config() != config {
                return Err(BusError::ConfigMismatch {
                    topic: name.to_owned(),
                    registered: topic.config(),
                    requested: config,
                });
            }
            return Ok(topic);
        }
        let topic = Topic::<E>::new(name, config)?;
        registry.patterns.retain(|p| p.is_live());
        for pattern in &registry.patterns {
            if let Some(pattern) = pattern.as_any().downcast_ref::<Arc<Pattern<E>>>()
                && matches(&pattern.pattern, name)
            {
                topic
                    .ring()
                    .add_forward(Arc::clone(pattern) as Arc<dyn Forward<E>>);
            }
        }
        let name: Arc<str> = Arc::clone(&topic.ring().name);
        registry.topics.insert(name, Box::new(topic.clone()));
        Ok(topic)
    }

    /// The existing topic `name`.
    ///
    /// # Errors
    ///
    /// [`BusError::NotFound`], or [`BusError::TypeMismatch`] if it carries another type.
    pub fn lookup<E>(&self, name: &str) -> Result<Topic<E>, BusError>
    where
        E: Send + Sync + 'static,
    {
        let registry = self.registry();
        let existing = registry
            .topics
            .get(name)
            .ok_or_else(|| BusError::NotFound(name.to_owned()))?;
        downcast::<E>(name, existing.as_ref())
    }

    /// Removes `name` from the bus; the topic closes once the handles given out are dropped too.
    /// Returns whether it was there.
    pub fn remove_topic(&self, name: &str) -> bool {
        let removed = self.registry().topics.remove(name);
        removed.is_some()
    }

    /// The names of the topics, sorted.
    pub fn topic_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .registry()
            .topics
            .keys()
            .map(|name| name.to_string())
            .collect();
        names.sort_unstable();
        names
    }

    /// Every topic's counters, by name, sorted.
    pub fn stats(&self) -> Vec<(String, TopicStats)> {
        let mut stats: Vec<(String, TopicStats)> = self
            .registry()
            .topics
            .iter()
            .map(|(name, topic)| (name.to_string(), topic.stats()))
            .collect();
        stats.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        stats
    }

    /// A subscriber to every topic carrying `E` whose name matches `pattern`, now or created
    /// later; `*` matches any run of characters, dots included.
    ///
    /// Events arrive as [`Routed`] (topic name and event), in publish order per topic. The
    /// subscription has a ring of its own sized by `config`, whose overflow must be
    /// [`Overflow::DropOldest`] or [`Overflow::DropNewest`]: an observer never makes the topics it
    /// watches wait for it (forwarding costs their publishers a clone and a write into its ring).
    /// Topics carrying other types are not matched. The subscription never reports `Closed`: the
    /// set of topics it watches stays open to topics created later.
    ///
    /// # Errors
    ///
    /// [`BusError::Config`] if `config` is invalid or may push back.
    pub fn subscribe_pattern<E>(
        &self,
        pattern: &str,
        config: TopicConfig,
    ) -> Result<Subscriber<Routed<E>>, BusError>
    where
        E: Clone + Send + Sync + 'static,
    {
        config.validate()?;
        if matches!(config.overflow, Overflow::Block | Overflow::Error) {
            return Err(ConfigError::PatternMayNotPushBack(config.overflow).into());
        }
        let pattern = Arc::new(Pattern {
            pattern: pattern.to_owned(),
            ring: Arc::new(Ring::new(pattern.into(), config)),
        });
        // Subscribe before attaching, so the subscription is live from the first forward.
        let subscriber = Subscriber::new(Arc::clone(&pattern.ring));
        let mut registry = self.registry();
        for (name, topic) in &registry.topics {
            if let Some(topic) = topic.as_any().downcast_ref::<Topic<E>>()
                && matches(&pattern.pattern, name)
            {
                topic
                    .ring()
                    .add_forward(Arc::clone(&pattern) as Arc<dyn Forward<E>>);
            }
        }
        registry.patterns.retain(|p| p.is_live());
        registry.patterns.push(Box::new(pattern));
        Ok(subscriber)
    }
}

fn downcast<E: Send + Sync + 'static>(
    name: &str,
    topic: &dyn AnyTopic,
) -> Result<Topic<E>, BusError> {
    match topic.as_any().downcast_ref::<Topic<E>>() {
        Some(topic) => Ok(topic.clone()),
        None => Err(BusError::TypeMismatch {
            topic: name.to_owned(),
            registered: topic.event_type(),
            requested: type_name::<E>(),
        }),
    }
}

impl fmt::Debug for EventBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventBus")
            .field("topics", &self.topic_names())
            .finish_non_exhaustive()
    }
}
