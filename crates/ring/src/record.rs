use std::fmt;
use std::time::{Duration, SystemTime};

use stanchion_core::SystemClock;

/// A record's severity, least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that was handled.
    Warn,
    /// A failure.
    Error,
}

impl Level {
    /// The upper-case name: `TRACE` ... `ERROR`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A wall-clock time as nanoseconds since the Unix epoch, which is how a record carries it: a
/// sink formats it with integer arithmetic, where a `SystemTime` would first have to be turned
/// back into a duration (as costly as reading the clock).
///
/// Converts from and to `SystemTime`; times before 1970 become 1970, and times after 2554 (where
/// a `u64` of nanoseconds ends) become 2554.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use stanchion_ring::Timestamp;
///
/// let at = Timestamp::from(UNIX_EPOCH + Duration::from_micros(1_500_000));
/// assert_eq!(at.unix_nanos(), 1_500_000_000);
/// assert_eq!(at.to_system_time(), UNIX_EPOCH + Duration::from_micros(1_500_000));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The current wall-clock time, read through the time-stamp counter
    /// ([`SystemClock::fast_wall_nanos`]: within microseconds of `SystemTime::now()` at half its
    /// cost).
    pub fn now() -> Self {
        Self(SystemClock::fast_wall_nanos())
    }

    /// The time `nanos` nanoseconds after the Unix epoch.
    pub const fn from_unix_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn unix_nanos(self) -> u64 {
        self.0
    }

    /// The same time as a `SystemTime`.
    pub fn to_system_time(self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_nanos(self.0)
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        Self(stanchion_core::unix_nanos(time))
    }
}

impl From<Timestamp> for SystemTime {
    fn from(time: Timestamp) -> Self {
        time.to_system_time()
    }
}

/// One log record: what [`Producer::push`](crate::Producer::push) takes and what a
/// [`Batch`] hands to a sink. The message is bytes, usually UTF-8 text; the ring copies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Severity.
    pub level: Level,
    /// Where it came from, such as a module path (`tracing`'s targets are `'static`).
    pub target: &'static str,
    /// When it happened.
    pub timestamp: Timestamp,
    /// The formatted message.
    pub message: &'a [u8],
}

impl<'a> Record<'a> {
    /// A record stamped with the current wall-clock time ([`Timestamp::now`]).
    pub fn new(level: Level, target: &'static str, message: &'a [u8]) -> Self {
        Self {
            level,
            target,
            timestamp: Timestamp::now(),
            message,
        }
    }
}

/// Records drained from the ring, stored so that a reused batch allocates nothing: the messages sit
/// end to end in one buffer.
///
/// ```
/// use stanchion_ring::{Batch, Level, LogRing, Record};
///
/// let (producer, mut consumer) = LogRing::builder().capacity(8).build().unwrap();
/// producer.push(Record::new(Level::Info, "app", b"started")).unwrap();
/// let mut batch = Batch::new();
/// assert_eq!(consumer.drain(&mut batch, 64), 1);
/// let record = batch.iter().next().unwrap();
/// assert_eq!((record.level, record.message), (Level::Info, &b"started"[..]));
/// ```
#[derive(Debug, Default, Clone)]
pub struct Batch {
    headers: Vec<Header>,
    bytes: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct Header {
    level: Level,
    target: &'static str,
    timestamp: Timestamp,
    end: usize,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.headers.len()
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }

    /// Empties the batch, keeping its buffers.
    pub fn clear(&mut self) {
        self.headers.clear();
        self.bytes.clear();
    }

    /// The records, oldest first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Record<'_>> + '_ {
        let mut start = 0;
        self.headers.iter().map(move |h| {
            let message = &self.bytes[start..h.end];
            start = h.end;
            Record {
                level: h.level,
                target: h.target,
                timestamp: h.timestamp,
                message,
            }
        })
    }

    /// Appends a record (a copy of its message).
    pub fn push(&mut self, record: Record<'_>) {
        self.bytes.extend_from_slice(record.message);
        self.headers.push(Header {
            level: record.level,
            target: record.target,
            timestamp: record.timestamp,
            end: self.bytes.len(),
        });
    }
}
