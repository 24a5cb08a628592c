use std::fmt;

/// A cache configuration that cannot work, naming the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cache configuration: {field} is {value}, expected {expected}")]
#[non_exhaustive]
pub struct ConfigError {
    /// The builder method whose value is wrong.
    pub field: &'static str,
    /// The value given.
    pub value: String,
    /// What would have been accepted.
    pub expected: &'static str,
}

impl ConfigError {
    pub(crate) fn new(field: &'static str, value: impl fmt::Debug, expected: &'static str) -> Self {
        Self {
            field,
            value: format!("{value:?}"),
            expected,
        }
    }
}

/// An insert the cache refused; the key and value come back.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InsertError<K, V> {
    /// The weigher gave the entry more weight than the whole cache can hold.
    #[error("entry weighs {weight}, more than the {limit} one entry may weigh")]
    TooHeavy {
        /// The key.
        key: K,
        /// The value.
        value: V,
        /// What the weigher said.
        weight: u32,
        /// The heaviest entry this cache accepts: its `max_weight`.
        limit: u64,
    },
}

impl<K, V> InsertError<K, V> {
    /// The key and value that were not inserted.
    pub fn into_inner(self) -> (K, V) {
        match self {
            InsertError::TooHeavy { key, value, .. } => (key, value),
        }
    }
}

impl<K, V> fmt::Debug for InsertError<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InsertError::TooHeavy { weight, limit, .. } => {
                write!(f, "TooHeavy {{ weight: {weight}, limit: {limit}, .. }}")
            }
        }
    }
}
