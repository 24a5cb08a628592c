use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::record::{Batch, Level, Record};

/// Where a [`Flusher`](crate::Flusher) writes records. Every call that fails (or panics) counts
/// once in [`RingStats::sink_errors`](crate::RingStats::sink_errors) and is kept as
/// [`FlushGuard::last_error`](crate::FlushGuard::last_error); it never stops the flusher.
pub trait Sink: Send + 'static {
    /// Writes one record (it may buffer it). The record is handed over straight from its slot in
    /// the ring, which is reused when this returns: a sink that keeps records must copy them.
    ///
    /// # Errors
    ///
    /// Any I/O error; the flusher counts it and goes on with the next record.
    fn write(&mut self, record: &Record<'_>) -> io::Result<()>;

    /// Ends a batch: the flusher calls it after each run of records it drained at once (at most
    /// `max_batch`). A sink that works in batches writes its batch here.
    ///
    /// # Errors
    ///
    /// Any I/O error, counted as for [`write`](Self::write).
    fn end_batch(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Pushes buffered records to their destination. Called when the flusher has caught up with
    /// the producers (before it sleeps), at least every `max_delay` while records flow, and at
    /// shutdown.
    ///
    /// # Errors
    ///
    /// Any I/O error, counted as for [`write`](Self::write).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Formats records as lines: `2026-11-23T10:15:02.123456Z  INFO target: message`.
///
/// It keeps the date and time of the last whole second it formatted, and the digits of the last
/// microsecond, so consecutive records cost a few digits each rather than a calendar conversion,
/// and records of one microsecond (a burst) cost a comparison.
///
/// ```
/// use stanchion_ring::{Level, LineFormat, Record, Timestamp};
///
/// let mut format = LineFormat::new();
/// let mut out = Vec::new();
/// let at = Timestamp::from_unix_nanos(1_500_000_000);
/// format.write(&mut out, &Record { level: Level::Warn, target: "jobs", timestamp: at, message: b"retrying" }).unwrap();
/// assert_eq!(out, b"1970-01-01T00:00:01.500000Z  WARN jobs: retrying\n");
/// ```
#[derive(Debug, Clone)]
pub struct LineFormat {
    /// The microsecond since the epoch last formatted (`u64::MAX`, which no timestamp reaches,
    /// and whose second none does either, for none)...
    micros: u64,
    /// ... its six digits after the second's dot, in the first six bytes...
    digits: [u8; 8],
    /// ... and `YYYY-MM-DDTHH:MM:SS.` for its second.
    prefix: [u8; 20],
}

impl Default for LineFormat {
    fn default() -> Self {
        Self {
            micros: u64::MAX,
            digits: [b'0'; 8],
            prefix: [b'.'; 20],
        }
    }
}

impl LineFormat {
    /// A formatter with nothing cached.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `record` as one line.
    ///
    /// # Errors
    ///
    /// The writer's error.
    pub fn write(&mut self, out: &mut impl Write, record: &Record<'_>) -> io::Result<()> {
        let micros = record.timestamp.unix_nanos() / 1_000;
        if micros != self.micros {
            self.format_micros(micros);
        }
        // Each piece goes to the writer straight from where it was made whole: the cached prefix
        // and digits, the static level. Gathering them in a local array first cost two
        // store-forwarding stalls a line (the copy out read wider than the byte-wide writes that
        // filled it), about half of formatting a 64-byte line.
        out.write_all(&self.prefix)?;
        out.write_all(&self.digits[..6])?;
        out.write_all(match record.level {
            Level::Trace => b"Z TRACE ",
            Level::Debug => b"Z DEBUG ",
            Level::Info => b"Z  INFO ",
            Level::Warn => b"Z  WARN ",
            Level::Error => b"Z ERROR ",
        })?;
        out.write_all(record.target.as_bytes())?;
        out.write_all(b": ")?;
        out.write_all(record.message)?;
        out.write_all(b"\n")
    }

    /// The length of `record`'s line, in bytes.
    fn line_len(record: &Record<'_>) -> usize {
        // The date and time to the second and the dot, six digits, `Z`, the level padded to
        // five and its spaces, `: ` and the newline.
        20 + 6 + 8 + record.target.len() + 2 + record.message.len() + 1
    }

    /// Makes `micros` the cached microsecond: its digits, and its second's prefix if that
    /// changed too. The digits are a chain of dependent multiplications that, run for every
    /// line, held up the copy of the line that follows.
    fn format_micros(&mut self, micros: u64) {
        let second = micros / 1_000_000;
        if second != self.micros / 1_000_000 {
            self.format_second(second);
        }
        self.digits = micros_digits(micros % 1_000_000);
        self.micros = micros;
    }

    #[cold]
    fn format_second(&mut self, second: u64) {
        let whole = std::time::UNIX_EPOCH + std::time::Duration::from_secs(second);
        let text = humantime::format_rfc3339_seconds(whole).to_string();
        // `YYYY-MM-DDTHH:MM:SSZ`: keep the first 19 bytes, then the dot.
        self.prefix[..19].copy_from_slice(&text.as_bytes()[..19]);
    }
}

/// `micros` (below a million) as six decimal digits, in the first six bytes. Two digits at a time
/// from a table, so the three pairs come from two dependent divisions rather than six.
fn micros_digits(micros: u64) -> [u8; 8] {
    let (high, rest) = (micros / 10_000, micros % 10_000);
    let (middle, low) = (rest / 100, rest % 100);
    // Built in one register and stored whole (`LineFormat::digits`), for the reason in
    // `LineFormat::write`.
    let digits = u64::from(digit_pair(high))
        | u64::from(digit_pair(middle)) << 16
        | u64::from(digit_pair(low)) << 32;
    digits.to_le_bytes()
}

/// The two ASCII digits of `n` (below 100), the tens first in memory.
fn digit_pair(n: u64) -> u16 {
    const PAIRS: [u8; 200] = {
        let mut pairs = [0; 200];
        let mut n = 0;
        while n < 100 {
            pairs[2 * n] = b'0' + (n / 10) as u8;
            pairs[2 * n + 1] = b'0' + (n % 10) as u8;
            n += 1;
        }
        pairs
    };
    let at = 2 * n.min(99) as usize;
    u16::from_le_bytes([PAIRS[at], PAIRS[at + 1]])
}

/// Formats records as lines ([`LineFormat`]) into any writer, through a buffer.
#[derive(Debug)]
pub struct WriterSink<W: Write> {
    out: BufWriter<W>,
    format: LineFormat,
}

impl<W: Write> WriterSink<W> {
    /// A sink over `writer` with a 64 KiB buffer.
    pub fn new(writer: W) -> Self {
        Self {
            out: BufWriter::with_capacity(64 << 10, writer),
            format: LineFormat::new(),
        }
    }

    /// The writer, after flushing the buffer.
    ///
    /// # Errors
    ///
    /// The flush's error, with the sink.
    pub fn into_inner(self) -> Result<W, io::IntoInnerError<BufWriter<W>>> {
        self.out.into_inner()
    }
}

impl<W: Write + Send + 'static> Sink for WriterSink<W> {
    fn write(&mut self, record: &Record<'_>) -> io::Result<()> {
        // The line goes into the buffer whole: room is made for it first, so a writer that fails
        // as the buffer drains fails before any of the line is buffered. Draining midway, as the
        // pieces arrived, left the line's first pieces in the buffer on an error, to be glued to
        // the next line. (A line longer than the buffer goes through in pieces.)
        let spare = self.out.capacity() - self.out.buffer().len();
        if LineFormat::line_len(record) > spare {
            self.out.flush()?;
        }
        self.format.write(&mut self.out, record)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Appends lines to a file, optionally rotating it by size: when a write would take the file past
/// `max_bytes`, `app.log` becomes `app.log.1` (`.1` becomes `.2`, and so on, keeping `keep` old
/// files) and a new `app.log` is started.
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    out: BufWriter<File>,
    written: u64,
    rotation: Option<(u64, usize)>,
    line: Vec<u8>,
    format: LineFormat,
}

impl FileSink {
    /// Opens `path` for appending, creating it if needed.
    ///
    /// # Errors
    ///
    /// The error from opening the file.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let written = file.metadata()?.len();
        Ok(Self {
            path,
            out: BufWriter::with_capacity(64 << 10, file),
            written,
            rotation: None,
            line: Vec::new(),
            format: LineFormat::new(),
        })
    }

    /// Rotates when the file would grow past `max_bytes`, keeping `keep` old files (at least 1).
    pub fn rotate(mut self, max_bytes: u64, keep: usize) -> Self {
        self.rotation = Some((max_bytes.max(1), keep.max(1)));
        self
    }

    fn rotated(&self, n: usize) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        name.into()
    }

    fn roll(&mut self, keep: usize) -> io::Result<()> {
        // Whatever happens next, this file counts as new: a roll that fails (a rename refused,
        // a reopen failing) must not make every later record roll again and fail with it.
        self.written = 0;
        self.out.flush()?;
        if !self.path.exists() {
            // Moved away by someone else (or a reopen failed): start it again, shift nothing.
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            self.out = BufWriter::with_capacity(64 << 10, file);
            return Ok(());
        }
        // Shift the run of old files that exists, `.1` up: looking for each of `keep` names
        // would take `keep` system calls, and `keep` may be huge.
        let mut run = 0;
        while run + 1 < keep && self.rotated(run + 1).exists() {
            run += 1;
        }
        for n in (1..=run).rev() {
            std::fs::rename(self.rotated(n), self.rotated(n + 1))?;
        }
        std::fs::rename(&self.path, self.rotated(1))?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.out = BufWriter::with_capacity(64 << 10, file);
        Ok(())
    }
}

impl Sink for FileSink {
    fn write(&mut self, record: &Record<'_>) -> io::Result<()> {
        self.line.clear();
        self.format.write(&mut self.line, record)?;
        if let Some((max_bytes, keep)) = self.rotation
            && self.written > 0
            && self.written + self.line.len() as u64 > max_bytes
        {
            // A roll that fails still leaves a file to append to: the record goes there, and the
            // error is reported.
            let rolled = self.roll(keep);
            self.out.write_all(&self.line)?;
            self.written += self.line.len() as u64;
            return rolled;
        }
        self.out.write_all(&self.line)?;
        self.written += self.line.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A sink that hands each batch to a closure: it copies the records the flusher drained at once
/// into a [`Batch`] and calls the closure at the end of the batch.
///
/// ```
/// use stanchion_ring::{Batch, FnSink, Level, Record, Sink, Timestamp};
///
/// let mut count = 0;
/// let mut sink = FnSink::new(move |batch: &Batch| {
///     count += batch.len();
///     println!("{count} records so far");
///     Ok(())
/// });
/// let record = Record { level: Level::Info, target: "app", timestamp: Timestamp::now(), message: b"hi" };
/// sink.write(&record).unwrap();
/// sink.end_batch().unwrap();
/// ```
pub struct FnSink<F> {
    call: F,
    batch: Batch,
}

impl<F> FnSink<F>
where
    F: FnMut(&Batch) -> io::Result<()> + Send + 'static,
{
    /// A sink that calls `call` with each batch.
    pub fn new(call: F) -> Self {
        Self {
            call,
            batch: Batch::new(),
        }
    }
}

impl<F> Sink for FnSink<F>
where
    F: FnMut(&Batch) -> io::Result<()> + Send + 'static,
{
    fn write(&mut self, record: &Record<'_>) -> io::Result<()> {
        self.batch.push(*record);
        Ok(())
    }

    fn end_batch(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        // Taken out while the closure runs, so a closure that panics does not get the same
        // records again next time; the buffers come back for reuse.
        let mut batch = std::mem::take(&mut self.batch);
        let result = (self.call)(&batch);
        batch.clear();
        self.batch = batch;
        result
    }

    /// Ends the batch (a caller driving the sink by hand may only call `write` and `flush`).
    fn flush(&mut self) -> io::Result<()> {
        self.end_batch()
    }
}

impl<F> std::fmt::Debug for FnSink<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnSink")
            .field("batched", &self.batch.len())
            .finish_non_exhaustive()
    }
}
