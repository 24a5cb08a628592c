use std::fmt;

/// How urgent an item is. `High`, `Normal` and `Low` are levels 0, 1 and 2; `Level(n)` names any of a
/// queue's levels, 0 being served first.
///
/// `Priority::High == Priority::Level(0)`: equality compares levels.
///
/// # Examples
///
/// ```
/// use stanchion_queue::Priority;
///
/// assert_eq!(Priority::Normal.level(), 1);
/// assert_eq!(Priority::Level(2), Priority::Low);
/// assert!(Priority::High < Priority::Low, "ordered by urgency: High first");
/// ```
#[derive(Debug, Clone, Copy, Eq, Default)]
pub enum Priority {
    /// Level 0, served first.
    High,
    /// Level 1, the default.
    #[default]
    Normal,
    /// Level 2.
    Low,
    /// Any level, 0 first.
    Level(u8),
}

impl Priority {
    /// The level number, 0 first.
    pub const fn level(self) -> u8 {
        match self {
            Priority::High => 0,
            Priority::Normal => 1,
            Priority::Low => 2,
            Priority::Level(level) => level,
        }
    }

    /// The priority of level `level`: `High`, `Normal`, `Low` for 0 to 2, else `Level(level)`.
    pub const fn from_level(level: u8) -> Self {
        match level {
            0 => Priority::High,
            1 => Priority::Normal,
            2 => Priority::Low,
            level => Priority::Level(level),
        }
    }
}

impl PartialEq for Priority {
    fn eq(&self, other: &Self) -> bool {
        self.level() == other.level()
    }
}

impl std::hash::Hash for Priority {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.level().hash(state);
    }
}

impl PartialOrd for Priority {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Priority {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.level().cmp(&other.level())
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Priority::High => f.write_str("high"),
            Priority::Normal => f.write_str("normal"),
            Priority::Low => f.write_str("low"),
            Priority::Level(level) => write!(f, "level {level}"),
        }
    }
}
