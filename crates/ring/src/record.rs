use std::fmt;
use std::time::SystemTime;

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

/// One log record: what [`Producer::push`](crate::Producer::push) takes and what a
/// [`Batch`] hands to a sink. The message is bytes, usually UTF-8 text; the ring copies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Severity.
    pub level: Level,
    /// Where it came from, such as a module path (`tracing`'s targets are `'static`).
    pub target: &'static str,
    /// When it happened.
    pub timestamp: SystemTime,
    /// The formatted message.
    pub message: &'a [u8],
}

impl<'a> Record<'a> {
    /// A record stamped with the current wall-clock time, read through the time-stamp counter
    /// ([`SystemClock::fast_wall`](stanchion_core::SystemClock::fast_wall): within microseconds
    /// of `SystemTime::now()` at a third of its cost).
    pub fn new(level: Level, target: &'static str, message: &'a [u8]) -> Self {
        Self {
            level,
            target,
            timestamp: SystemClock::fast_wall(),
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
    timestamp: SystemTime,
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
