use std::cell::RefCell;
use std::fmt::{self, Write as _};

use thread_local::ThreadLocal;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::record::{Level, Record};
use crate::ring::Producer;

/// A [`tracing_subscriber::Layer`] that formats each event (its message, then `name=value` for
/// the other fields) and pushes it into the ring, so that logging never waits on I/O:
///
/// ```
/// use stanchion_ring::{FlushPolicy, Flusher, LogRing, RingLayer, WriterSink};
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let (producer, consumer) = LogRing::builder().build().unwrap();
/// let guard = Flusher::spawn(consumer, WriterSink::new(std::io::sink()), FlushPolicy::default())
///     .unwrap();
/// let subscriber = tracing_subscriber::registry().with(RingLayer::new(producer));
/// tracing::subscriber::with_default(subscriber, || tracing::info!(job = 7, "started"));
/// drop(guard); // writes out everything logged before
/// ```
///
/// Each thread that logs pushes through a producer of its own, cloned from the one given, so on
/// a ring of several [lanes](crate::LogRingBuilder::lanes) the threads spread over the lanes.
#[derive(Debug)]
pub struct RingLayer {
    producer: Producer,
    per_thread: ThreadLocal<Producer>,
}

impl RingLayer {
    /// A layer pushing into `producer`'s ring.
    pub fn new(producer: Producer) -> Self {
        Self {
            producer,
            per_thread: ThreadLocal::new(),
        }
    }
}

impl Clone for RingLayer {
    fn clone(&self) -> Self {
        Self::new(self.producer.clone())
    }
}

thread_local! {
    /// Each thread formats into a buffer it keeps, so formatting allocates only to grow it.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

impl<S: Subscriber> Layer<S> for RingLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let level = match *metadata.level() {
            tracing::Level::TRACE => Level::Trace,
            tracing::Level::DEBUG => Level::Debug,
            tracing::Level::INFO => Level::Info,
            tracing::Level::WARN => Level::Warn,
            tracing::Level::ERROR => Level::Error,
        };
        let push = |line: &mut String| {
            line.clear();
            event.record(&mut Fields(line));
            // A full ring under DropNewest counts the loss itself; a closed one has no reader.
            let producer = self.per_thread.get_or(|| self.producer.clone());
            let _ = producer.push(Record::new(level, metadata.target(), line.as_bytes()));
        };
        // A field's `Debug` that logs re-enters here with the buffer taken: use a fresh one.
        LINE.with(|line| match line.try_borrow_mut() {
            Ok(mut line) => push(&mut line),
            Err(_) => push(&mut String::new()),
        });
    }
}

struct Fields<'a>(&'a mut String);

impl Fields<'_> {
    fn separate(&mut self) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.separate();
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, "{}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.separate();
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, "{}={value:?}", field.name());
        }
    }
}
