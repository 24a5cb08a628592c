use std::fmt;

/// A push that could not be made; the item comes back.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PushError<T> {
    /// The queue holds its capacity.
    #[error("queue is full")]
    Full(T),
    /// The queue was closed.
    #[error("queue is closed")]
    Closed(T),
    /// The priority names a level the queue does not have.
    #[error("queue has no level {level}")]
    NoSuchLevel {
        /// The item.
        item: T,
        /// The level asked for.
        level: u8,
    },
}

impl<T> PushError<T> {
    /// The item that was not pushed.
    pub fn into_inner(self) -> T {
        match self {
            PushError::Full(item)
            | PushError::Closed(item)
            | PushError::NoSuchLevel { item, .. } => item,
        }
    }
}

impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full(_) => f.write_str("Full(..)"),
            PushError::Closed(_) => f.write_str("Closed(..)"),
            PushError::NoSuchLevel { level, .. } => {
                write!(f, "NoSuchLevel {{ level: {level}, .. }}")
            }
        }
    }
}

/// Why a waiting pop returned without an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PopError {
    /// Nothing arrived before the deadline.
    #[error("no item arrived in time")]
    Timeout,
    /// The queue is closed and empty.
    #[error("queue is closed and drained")]
    Closed,
}

/// A queue configuration that cannot work, naming the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid queue configuration: {field} is {value}, expected {expected}")]
#[non_exhaustive]
pub struct ConfigError {
    /// The setting.
    pub field: &'static str,
    /// Its value.
    pub value: String,
    /// What it must be.
    pub expected: &'static str,
}
