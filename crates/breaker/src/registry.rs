use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use stanchion_core::{Clock, SystemClock};

use crate::{BreakerConfig, CircuitBreaker, ConfigError};

type Breakers = HashMap<Arc<str>, CircuitBreaker>;

/// Named breakers, each created once: one per hook or per dependency, shared by every caller.
///
/// Looking a breaker up takes no lock (the map is swapped whole when a breaker is added, which
/// happens once per name). Configurations are named too, so many breakers can share one.
///
/// # Examples
///
/// ```
/// use stanchion_breaker::{BreakerConfig, BreakerRegistry, State};
///
/// let registry = BreakerRegistry::new(BreakerConfig::balanced())?;
/// registry.add_config("payments", BreakerConfig::conservative())?;
///
/// let hook = registry.breaker("hook.pre_tool_use");
/// let again = registry.breaker("hook.pre_tool_use");
/// hook.transition_to_forced_open().unwrap();
/// assert_eq!(again.state(), State::ForcedOpen, "the same breaker");
///
/// let card = registry.breaker_with("charge-card", "payments")?;
/// assert_eq!(card.config(), &BreakerConfig::conservative());
/// # Ok::<(), stanchion_breaker::RegistryError>(())
/// ```
pub struct BreakerRegistry {
    default: BreakerConfig,
    configs: ArcSwap<HashMap<String, BreakerConfig>>,
    breakers: ArcSwap<Breakers>,
    clock: Arc<dyn Clock>,
    writes: Mutex<()>,
}

/// A registry request that cannot be met.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The named configuration is not valid.
    #[error("configuration {name:?}: {source}")]
    InvalidConfig {
        /// The configuration's name (`default` for the registry's default).
        name: String,
        /// What is wrong with it.
        source: ConfigError,
    },
    /// No configuration has that name.
    #[error("no breaker configuration named {0:?}")]
    UnknownConfig(String),
}

impl fmt::Debug for BreakerRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerRegistry")
            .field("breakers", &self.names())
            .finish_non_exhaustive()
    }
}

impl BreakerRegistry {
    /// A registry whose breakers use `default` unless told otherwise, on the system clock.
    ///
    /// # Errors
    ///
    /// [`RegistryError::InvalidConfig`] if `default` is not valid.
    pub fn new(default: BreakerConfig) -> Result<Self, RegistryError> {
        Self::with_clock(default, Arc::new(SystemClock))
    }

    /// As [`new`](Self::new), with every breaker on `clock`.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn with_clock(
        default: BreakerConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, RegistryError> {
        default
            .validate()
            .map_err(|source| RegistryError::InvalidConfig {
                name: "default".into(),
                source,
            })?;
        Ok(Self {
            default,
            configs: ArcSwap::from_pointee(HashMap::new()),
            breakers: ArcSwap::from_pointee(HashMap::new()),
            clock,
            writes: Mutex::new(()),
        })
    }

    /// Names `config` for [`breaker_with`](Self::breaker_with). Breakers already made keep theirs.
    ///
    /// # Errors
    ///
    /// [`RegistryError::InvalidConfig`] if `config` is not valid.
    pub fn add_config(
        &self,
        name: impl Into<String>,
        config: BreakerConfig,
    ) -> Result<(), RegistryError> {
        let name = name.into();
        config
            .validate()
            .map_err(|source| RegistryError::InvalidConfig {
                name: name.clone(),
                source,
            })?;
        let _writing = self
            .writes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut configs = HashMap::clone(&self.configs.load());
        configs.insert(name, config);
        self.configs.store(Arc::new(configs));
        Ok(())
    }

    /// The breaker named `name`, made with the default configuration the first time it is asked for.
    pub fn breaker(&self, name: &str) -> CircuitBreaker {
        self.get_or_make(name, || Ok(self.default.clone()))
            .expect("the default configuration was validated")
    }

    /// The breaker named `name`, made with the configuration named `config` the first time.
    /// A breaker that exists is returned as it is, whatever `config` says.
    ///
    /// # Errors
    ///
    /// [`RegistryError::UnknownConfig`] if the breaker must be made and no configuration has that name.
    pub fn breaker_with(&self, name: &str, config: &str) -> Result<CircuitBreaker, RegistryError> {
        self.get_or_make(name, || {
            self.configs
                .load()
                .get(config)
                .cloned()
                .ok_or_else(|| RegistryError::UnknownConfig(config.to_owned()))
        })
    }

    /// The breaker named `name`, if it was made.
    pub fn get(&self, name: &str) -> Option<CircuitBreaker> {
        self.breakers.load().get(name).cloned()
    }

    /// The names of every breaker made so far, sorted.
    pub fn names(&self) -> Vec<Arc<str>> {
        let mut names: Vec<_> = self.breakers.load().keys().cloned().collect();
        names.sort();
        names
    }

    fn get_or_make(
        &self,
        name: &str,
        config: impl FnOnce() -> Result<BreakerConfig, RegistryError>,
    ) -> Result<CircuitBreaker, RegistryError> {
        if let Some(breaker) = self.get(name) {
            return Ok(breaker);
        }
        let _writing = self
            .writes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Another caller may have made it while this one waited.
        if let Some(breaker) = self.get(name) {
            return Ok(breaker);
        }
        let config = config()?;
        let breaker = CircuitBreaker::builder()
            .config(config)
            .shared_clock(Arc::clone(&self.clock))
            .build()
            .map_err(|source| RegistryError::InvalidConfig {
                name: name.to_owned(),
                source,
            })?;
        let mut breakers = Breakers::clone(&self.breakers.load());
        breakers.insert(Arc::from(name), breaker.clone());
        self.breakers.store(Arc::new(breakers));
        Ok(breaker)
    }
}
