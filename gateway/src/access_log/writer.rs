//! The access log's writer: records are formatted straight into a
//! bounded per-worker buffer and written by a thread of their own, so a
//! slow disk never slows a request. When a worker's buffer is full a
//! record is dropped and counted, and a warning says so at most once per
//! [`WARN_EVERY`].
//!
//! Our own writer rather than `tracing-appender`'s non-blocking one,
//! because of a measurement: its thread blocks on a queue of records and
//! flushes after each batch, and at the rates a gateway serves a batch is
//! usually one record, so every request paid a thread wake-up (a futex
//! call and a context switch), an allocation freed on another thread, and
//! a `write(2)` of its own; on the 2-core machine the access log then cost
//! about a tenth of the gateway's throughput. Here a record costs its
//! formatting into its worker's buffer (a per-worker shard: the lock is
//! only ever contended by the writer, once per round) and nothing else;
//! the writer wakes every [`FLUSH_EVERY`] (or when asked to stop), swaps
//! each buffer for an empty one, writes them and flushes once, as nginx's
//! `access_log ... buffer= flush=` does.
//!
//! A busy worker does not wait for the round: once its buffer holds
//! [`HANDOFF_BYTES`] it wakes the writer, which takes the buffer at once.
//! Each round writes every worker's buffer in one vectored write.
//!
//! The hand-off size is a measured trade: small buffers stay in a
//! worker's cache, big ones wake the writer less often. At 32 KiB the
//! writer thread woke about 300 times a second under the proxy
//! benchmark's load and cost 0.4–0.7 µs of CPU per record, mostly the
//! wake-ups; at 128 KiB, with one vectored write per round, 0.2–0.35 µs, and the workers' own CPU per request did
//! not move beyond the noise of the measure (docs/latency-comparison.md,
//! 2026-12-03, late). Two buffers of that size per worker fit well inside
//! a core's 2 MiB second-level cache.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::model::log::AccessLogTarget;

/// Least time between two warnings about dropped records, or about
/// failed writes.
pub(super) const WARN_EVERY: Duration = Duration::from_secs(10);

/// How long a record may wait in its buffer before it is written: the
/// writer thread's period (nginx's `access_log ... flush=`, Envoy's file
/// flush interval).
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// Buffers: one per worker (workers past this many share, by index).
const SHARDS: usize = 16;

/// A worker's buffer is handed to the writer once it holds this many
/// bytes (about 250 JSON records): the writer is woken at most once per
/// this many bytes, and the two buffers a worker alternates between stay
/// in its core's cache.
pub(super) const HANDOFF_BYTES: usize = 128 * 1024;

/// How many records were dropped because a buffer was full; a cheap
/// handle for the metrics.
#[derive(Debug, Clone, Default)]
pub struct DroppedRecords(Arc<AtomicU64>);

impl DroppedRecords {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl crate::observe::metrics::DroppedCount for DroppedRecords {
    fn dropped(&self) -> u64 {
        self.get()
    }
}

/// Opens the log's file again at its path (after log rotation renamed or
/// removed it); `None` for standard output and error.
pub(super) type Reopen = Box<dyn FnMut() -> io::Result<Box<dyn Write + Send>> + Send>;

/// The reopen requests the writer has answered: how many, and whether
/// the last one failed. Waited on by `POST /reopen_logs`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reopens {
    pub done: u64,
    pub last_failed: bool,
}

/// Asks the writer thread to reopen the log's file (SIGUSR1, `POST
/// /reopen_logs`), and tells when it has.
#[derive(Debug, Clone)]
pub struct ReopenHandle {
    requested: Arc<AtomicBool>,
    writer: Option<std::thread::Thread>,
    answered: tokio::sync::watch::Receiver<Reopens>,
}

impl ReopenHandle {
    /// Asks for a reopen; waits until the writer thread has tried, at most
    /// `patience`. `None`: no answer in time, or the writer thread has
    /// stopped (the gateway did).
    pub async fn reopen(&self, patience: Duration) -> Option<Reopens> {
        let mut answered = self.answered.clone();
        let before = answered.borrow_and_update().done;
        self.requested.store(true, Ordering::Release);
        self.writer.as_ref()?.unpark();
        let wait = answered.wait_for(|reopens| reopens.done > before);
        match tokio::time::timeout(patience, wait).await {
            Ok(Ok(reopens)) => Some(*reopens),
            _ => None,
        }
    }
}

/// The records a worker has formatted since the writer's last round.
#[derive(Debug, Default)]
struct Batch {
    bytes: Vec<u8>,
    records: usize,
    /// The writer was woken for this buffer and has not taken it yet.
    handed_off: bool,
}

/// One worker's buffer, on a cache line of its own.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard(Mutex<Batch>);

impl Shard {
    fn lock(&self) -> std::sync::MutexGuard<'_, Batch> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The workers' side: never blocks on the disk, never wakes the writer.
#[derive(Debug)]
pub(super) struct RecordQueue {
    shards: Arc<[Shard]>,
    /// Most records one buffer holds between two rounds.
    capacity: usize,
    dropped: DroppedRecords,
    warnings: RateLimitedWarning,
    /// The writer thread, woken when a buffer reaches [`HANDOFF_BYTES`].
    writer: Option<std::thread::Thread>,
    /// `None` when there is no file to reopen.
    reopen: Option<ReopenHandle>,
}

/// Keeps the writer thread; dropping it (or [`WriterGuard::close`]) writes
/// what is buffered, flushes, and stops the thread.
pub struct WriterGuard {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for WriterGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriterGuard")
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

impl RecordQueue {
    /// Starts the writer thread over `sink`, with a round every `period`
    /// ([`FLUSH_EVERY`] but in tests); each worker's buffer holds up to
    /// `capacity` records between two rounds.
    pub fn start(
        sink: Box<dyn Write + Send>,
        reopen: Option<Reopen>,
        capacity: usize,
        period: Duration,
    ) -> (Self, WriterGuard) {
        let shards: Arc<[Shard]> = (0..SHARDS).map(|_| Shard::default()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let requested = Arc::new(AtomicBool::new(false));
        let has_file = reopen.is_some();
        let (answer, answered) = tokio::sync::watch::channel(Reopens::default());
        let thread = std::thread::Builder::new()
            .name("gateway-access-log".to_owned())
            .spawn({
                let (shards, stop) = (Arc::clone(&shards), Arc::clone(&stop));
                let reopening = Reopening {
                    reopen,
                    requested: Arc::clone(&requested),
                    answer,
                };
                move || write_until_stopped(sink, reopening, &shards, &stop, period)
            });
        let thread = match thread {
            Ok(thread) => Some(thread),
            Err(error) => {
                // Records then fill the buffers and are dropped and
                // counted: the gateway still serves.
                tracing::error!(%error, "access log: cannot start the writer thread");
                None
            }
        };
        let writer = thread.as_ref().map(|thread| thread.thread().clone());
        let queue = Self {
            shards,
            capacity: capacity.max(1),
            dropped: DroppedRecords::default(),
            warnings: RateLimitedWarning::default(),
            reopen: has_file.then(|| ReopenHandle {
                requested,
                writer: writer.clone(),
                answered,
            }),
            writer,
        };
        (queue, WriterGuard { stop, thread })
    }

    /// Formats one record (a whole line) with `write` into the current
    /// worker's buffer; drops it when the buffer is full.
    pub fn push_with(&self, write: impl FnOnce(&mut Vec<u8>)) {
        let shard = &self.shards[crate::workers::current_index() % SHARDS];
        {
            let mut batch = shard.lock();
            if batch.records < self.capacity {
                write(&mut batch.bytes);
                batch.records += 1;
                let hand_off = batch.bytes.len() >= HANDOFF_BYTES && !batch.handed_off;
                batch.handed_off |= hand_off;
                drop(batch);
                if hand_off && let Some(writer) = &self.writer {
                    writer.unpark();
                }
                return;
            }
        }
        let dropped = self.dropped.0.fetch_add(1, Ordering::Relaxed) + 1;
        if self.warnings.due(dropped) {
            tracing::warn!(
                dropped_total = dropped,
                "access log: the writer is behind and its buffer is full; records were dropped"
            );
        }
    }

    pub fn dropped(&self) -> DroppedRecords {
        self.dropped.clone()
    }

    /// `None` when the log is not written to a file.
    pub fn reopen_handle(&self) -> Option<ReopenHandle> {
        self.reopen.clone()
    }
}

/// The writer thread's side of reopening.
struct Reopening {
    reopen: Option<Reopen>,
    requested: Arc<AtomicBool>,
    answer: tokio::sync::watch::Sender<Reopens>,
}

impl Reopening {
    /// Reopens the file if asked to (after the round wrote what the old
    /// one was owed, as nginx does on SIGUSR1); a failure keeps the old
    /// file.
    fn if_requested(&mut self, sink: &mut Box<dyn Write + Send>) {
        if !self.requested.swap(false, Ordering::AcqRel) {
            return;
        }
        let failed = match self.reopen.as_mut().map(|reopen| reopen()) {
            Some(Ok(reopened)) => {
                *sink = reopened;
                tracing::info!("access log: file reopened");
                false
            }
            Some(Err(error)) => {
                tracing::error!(%error, "access log: cannot reopen the file; still writing to the old one");
                true
            }
            // Standard output or error: nothing to reopen.
            None => false,
        };
        self.answer.send_modify(|reopens| {
            reopens.done += 1;
            reopens.last_failed = failed;
        });
    }
}

/// The writer thread: every [`FLUSH_EVERY`], or when a worker hands its
/// buffer off, each worker's buffer swapped for an empty one and written,
/// then one flush; after the stop signal, a last round.
fn write_until_stopped(
    mut sink: Box<dyn Write + Send>,
    mut reopening: Reopening,
    shards: &[Shard],
    stop: &AtomicBool,
    period: Duration,
) {
    // One empty buffer per shard, swapped for the shard's full one.
    let mut spares: Vec<Vec<u8>> = shards.iter().map(|_| Vec::new()).collect();
    loop {
        std::thread::park_timeout(period);
        let stopping = stop.load(Ordering::Acquire);
        let mut took_any = false;
        for (shard, spare) in shards.iter().zip(&mut spares) {
            let mut batch = shard.lock();
            if batch.records == 0 {
                continue;
            }
            std::mem::swap(&mut batch.bytes, spare);
            batch.records = 0;
            batch.handed_off = false;
            took_any = true;
        }
        if took_any {
            // Every shard's batch in one system call. Failures are
            // reported by the sink (`ReportingFile`).
            let _ = write_all_vectored(&mut *sink, &spares);
            let _ = sink.flush();
            spares.iter_mut().for_each(Vec::clear);
        }
        reopening.if_requested(&mut sink);
        if stopping {
            return;
        }
    }
}

/// Writes every non-empty buffer of `buffers`, in order, with as few
/// vectored writes as the sink takes.
pub(super) fn write_all_vectored(sink: &mut dyn Write, buffers: &[Vec<u8>]) -> io::Result<()> {
    let mut slices: Vec<io::IoSlice<'_>> = buffers
        .iter()
        .filter(|buffer| !buffer.is_empty())
        .map(|buffer| io::IoSlice::new(buffer))
        .collect();
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        match sink.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => io::IoSlice::advance_slices(&mut slices, written),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Opens where the records go: standard output or error, or a file
/// opened for appending (created if missing). Unbuffered: the writer
/// thread writes each worker's batch whole (up to [`HANDOFF_BYTES`] and
/// more), so a buffer in between would only copy every record once more
/// (about 400 instructions a record, callgrind, 2026-12-02).
/// With a file, also how to open it again ([`Reopen`]).
pub(super) fn open(
    target: &AccessLogTarget,
) -> io::Result<(Box<dyn Write + Send>, Option<Reopen>)> {
    Ok(match target {
        AccessLogTarget::Stdout => (Box::new(io::stdout()), None),
        AccessLogTarget::Stderr => (Box::new(io::stderr()), None),
        AccessLogTarget::File(path) => {
            let file = open_file(path)?;
            let path = path.clone();
            let reopen: Reopen = Box::new(move || open_file(&path));
            (file, Some(reopen))
        }
    })
}

/// `path` opened for appending, created if missing.
fn open_file(path: &std::path::Path) -> io::Result<Box<dyn Write + Send>> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    Ok(Box::new(ReportingFile {
        file,
        path: path.to_path_buf(),
        warnings: RateLimitedWarning::default(),
        failures: 0,
    }))
}

/// A file whose write errors (a full disk) are logged, at most once per
/// [`WARN_EVERY`]; the writer thread would otherwise lose them silently.
struct ReportingFile {
    file: std::fs::File,
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

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let result = self.file.write_vectored(bufs);
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
