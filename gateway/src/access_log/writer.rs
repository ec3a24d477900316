//! The access log's writer: records are handed to a bounded queue and
//! written by a thread of their own (`tracing-appender`'s non-blocking
//! writer, in lossy mode), so a slow disk never slows a request. When the
//! queue is full a record is dropped and counted, and a warning says so
//! at most once per [`WARN_EVERY`].

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::fmt::MakeWriter;

use crate::config::model::log::AccessLogTarget;

/// Least time between two warnings about dropped records, or about
/// failed writes.
pub(super) const WARN_EVERY: Duration = Duration::from_secs(10);

/// How many records were dropped because the queue was full; a cheap
/// handle for the metrics.
#[derive(Clone)]
pub struct DroppedRecords(ErrorCounter);

impl DroppedRecords {
    pub fn get(&self) -> u64 {
        self.0.dropped_lines() as u64
    }
}

impl crate::observe::metrics::DroppedCount for DroppedRecords {
    fn dropped(&self) -> u64 {
        self.get()
    }
}

impl std::fmt::Debug for DroppedRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DroppedRecords").field(&self.get()).finish()
    }
}

/// The sending side: cloned per record, never blocks.
pub(super) struct RecordQueue {
    sender: NonBlocking,
    dropped: DroppedRecords,
    warnings: RateLimitedWarning,
}

impl std::fmt::Debug for RecordQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordQueue")
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

/// Keeps the writer thread; dropping it writes what is queued, flushes,
/// and stops the thread (it blocks for up to about a second).
pub struct WriterGuard {
    _thread: WorkerGuard,
}

impl std::fmt::Debug for WriterGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriterGuard")
    }
}

impl RecordQueue {
    /// Starts the writer thread over `sink`, queuing `capacity` records.
    pub fn start(sink: Box<dyn Write + Send>, capacity: usize) -> (Self, WriterGuard) {
        let (sender, guard) = NonBlockingBuilder::default()
            .lossy(true)
            .buffered_lines_limit(capacity)
            .thread_name("gateway-access-log")
            .finish(sink);
        let dropped = DroppedRecords(sender.error_counter());
        let queue = Self {
            sender,
            dropped,
            warnings: RateLimitedWarning::default(),
        };
        (queue, WriterGuard { _thread: guard })
    }

    /// Queues one record (whole lines only); drops it when the queue is full.
    pub fn push(&self, record: &[u8]) {
        let _ = self.sender.make_writer().write_all(record);
        let dropped = self.dropped.get();
        if dropped > 0 && self.warnings.due(dropped) {
            tracing::warn!(
                dropped_total = dropped,
                "access log: the writer is behind and its queue is full; records were dropped"
            );
        }
    }

    pub fn dropped(&self) -> DroppedRecords {
        self.dropped.clone()
    }
}

/// Bytes gathered before a write; the writer thread also flushes after
/// each batch of records, so a quiet log is never held back.
const WRITE_BUFFER: usize = 64 * 1024;

/// Opens where the records go: standard output or error, or a file
/// opened for appending (created if missing). Buffered: one write per
/// batch of records rather than one per record.
pub(super) fn open(target: &AccessLogTarget) -> io::Result<Box<dyn Write + Send>> {
    Ok(match target {
        AccessLogTarget::Stdout => {
            Box::new(io::BufWriter::with_capacity(WRITE_BUFFER, io::stdout()))
        }
        AccessLogTarget::Stderr => {
            Box::new(io::BufWriter::with_capacity(WRITE_BUFFER, io::stderr()))
        }
        AccessLogTarget::File(path) => {
            let file = OpenOptions::new().create(true).append(true).open(path)?;
            Box::new(ReportingFile {
                file: io::BufWriter::with_capacity(WRITE_BUFFER, file),
                path: path.clone(),
                warnings: RateLimitedWarning::default(),
                failures: 0,
            })
        }
    })
}

/// A file whose write errors (a full disk) are logged, at most once per
/// [`WARN_EVERY`]; the writer thread would otherwise lose them silently.
/// Buffered: the writer thread flushes after each batch of records.
struct ReportingFile {
    file: io::BufWriter<std::fs::File>,
    path: PathBuf,
    warnings: RateLimitedWarning,
    failures: u64,
}

impl ReportingFile {
    fn report<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if let Err(error) = &result {
            self.failures += 1;
            if self.warnings.due(self.failures) {
                tracing::warn!(
                    path = %self.path.display(),
                    %error,
                    failed_writes_total = self.failures,
                    "access log: cannot write to the file"
                );
            }
        }
        result
    }
}

impl Write for ReportingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let result = self.file.write(buf);
        self.report(result)
    }

    fn flush(&mut self) -> io::Result<()> {
        let result = self.file.flush();
        self.report(result)
    }
}

/// Says "warn now" when a count has grown and the last warning is at
/// least [`WARN_EVERY`] old. Lock-free: one atomic load on the usual path.
#[derive(Debug, Default)]
pub(super) struct RateLimitedWarning {
    /// The count at the last warning.
    reported: AtomicU64,
    /// Milliseconds since `epoch()` of the last warning, plus one (zero:
    /// never warned).
    last_at: AtomicU64,
}

impl RateLimitedWarning {
    pub(super) fn due(&self, count: u64) -> bool {
        if count <= self.reported.load(Ordering::Relaxed) {
            return false;
        }
        let now = epoch().elapsed().as_millis() as u64 + 1;
        let last = self.last_at.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < WARN_EVERY.as_millis() as u64 {
            return false;
        }
        let claimed = self
            .last_at
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok();
        if claimed {
            self.reported.store(count, Ordering::Relaxed);
        }
        claimed
    }
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl WriterGuard {
    /// Writes what is queued, flushes, and stops the writer thread, off
    /// the async runtime's threads. Call it once requests have drained.
    pub async fn close(self) {
        let _ = tokio::task::spawn_blocking(move || drop(self)).await;
    }
}
