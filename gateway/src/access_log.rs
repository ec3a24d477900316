//! The access log: one record per request, written when the response body
//! ends or is aborted (an [`ExchangeSink`] on the observation seam).
//!
//! A record is formatted on the request's worker thread (a JSON object or
//! a text line, see `record`) and handed to a bounded queue; a thread of
//! its own writes it (see `writer`). A slow disk fills the queue, and a
//! full queue drops records and counts them ([`AccessLog::dropped`]),
//! rather than slowing requests. The log belongs to one running gateway;
//! [`WriterGuard::close`] writes what is queued when the gateway stops.
//!
//! Fields and layouts: docs/observability.md, "Access log".

mod json;
mod record;
mod text;
mod writer;

#[cfg(test)]
mod tests;

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

pub use writer::{DroppedRecords, ReopenHandle, Reopens, WriterGuard};

use crate::config::model::log::{AccessLogSettings, LogFormat};
use crate::observe::RefusedHead;
use crate::observe::{Exchange, ExchangeSink, Finished, UpstreamSummary};
use record::Record;
use writer::RecordQueue;

/// The access-log sink of one running gateway.
#[derive(Debug)]
pub struct AccessLog {
    format: LogFormat,
    queue: RecordQueue,
}

impl AccessLog {
    /// Opens the log's target and starts its writer thread. Keep the
    /// guard for as long as the gateway serves.
    pub fn start(settings: &AccessLogSettings) -> io::Result<(Arc<AccessLog>, WriterGuard)> {
        let (sink, reopen) = writer::open(&settings.target)?;
        Ok(Self::over_every(
            sink,
            reopen,
            settings.format,
            settings.buffer_records,
            writer::FLUSH_EVERY,
        ))
    }

    /// An access log writing to `sink`, queuing `capacity` records.
    #[cfg(test)]
    fn over(
        sink: Box<dyn io::Write + Send>,
        format: LogFormat,
        capacity: usize,
    ) -> (Arc<AccessLog>, WriterGuard) {
        Self::over_every(sink, None, format, capacity, writer::FLUSH_EVERY)
    }

    /// [`Self::over`], reopened by `reopen`, with the writer's rounds
    /// every `period`.
    fn over_every(
        sink: Box<dyn io::Write + Send>,
        reopen: Option<writer::Reopen>,
        format: LogFormat,
        capacity: usize,
        period: std::time::Duration,
    ) -> (Arc<AccessLog>, WriterGuard) {
        let (queue, guard) = RecordQueue::start(sink, reopen, capacity, period);
        (Arc::new(AccessLog { format, queue }), guard)
    }

    /// Records dropped so far because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.queue.dropped().get()
    }

    /// A handle on the dropped-records count, for the metrics.
    pub fn dropped_records(&self) -> DroppedRecords {
        self.queue.dropped()
    }

    /// Reopens the log's file (after log rotation): SIGUSR1 and the
    /// admin's `POST /reopen_logs`. `None` when the log is not written to
    /// a file.
    pub fn reopen_handle(&self) -> Option<ReopenHandle> {
        self.queue.reopen_handle()
    }
}

impl ExchangeSink for AccessLog {
    fn needs_details(&self) -> bool {
        true
    }

    fn on_finish(&self, exchange: &Exchange, finished: &Finished) {
        self.push(&Record::of(exchange, finished));
    }

    fn on_refused_head(&self, head: &RefusedHead<'_>) {
        let no_upstream = Mutex::new(UpstreamSummary::default());
        let upstream = no_upstream.lock().unwrap_or_else(PoisonError::into_inner);
        self.push(&Record::refused(head, upstream));
    }
}

impl AccessLog {
    fn push(&self, record: &Record<'_>) {
        self.queue.push_with(|line| match self.format {
            LogFormat::Json => record.write_json(line),
            LogFormat::Text => record.write_text(line),
        });
    }
}

/// How long a reopen may take: the writer thread reopens after its
/// current round, at most [`writer::FLUSH_EVERY`] away, plus the disk.
pub const REOPEN_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// Reopens the access log's file on each SIGUSR1 (nginx's signal for
/// log rotation: `postrotate kill -USR1 ...` in logrotate). Installed
/// whether or not there is a file (`None`), so that the signal never
/// takes its default action, which ends the process. The task ends with
/// the writer thread, at the first signal after the gateway stopped.
#[cfg(unix)]
pub fn reopen_on_sigusr1(handle: Option<ReopenHandle>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut signals) = signal(SignalKind::user_defined1()) else {
        tracing::warn!(
            "cannot install the SIGUSR1 handler; POST /reopen_logs still reopens the access log"
        );
        return;
    };
    tokio::spawn(async move {
        while signals.recv().await.is_some() {
            let Some(handle) = &handle else {
                tracing::info!(
                    "SIGUSR1: the access log is off or not written to a file; nothing to reopen"
                );
                continue;
            };
            if handle.reopen(REOPEN_PATIENCE).await.is_none() {
                return;
            }
        }
    });
}

#[cfg(not(unix))]
pub fn reopen_on_sigusr1(_handle: Option<ReopenHandle>) {}
