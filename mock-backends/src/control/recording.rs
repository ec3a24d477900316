//! What a service received: one [`RecordedRequest`] per request, opened on
//! arrival and closed when the response body ends (`Completed`) or when the
//! request or its body is dropped first (`Cancelled`, e.g. the client went
//! away in the middle of a gRPC server stream). A drop guard does the
//! closing, so no path can leave a record open by accident.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::Body as _;
use tokio::sync::watch;

/// How a recorded request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Still being served.
    InFlight,
    /// The whole response was handed to the connection.
    Completed(StatusCode),
    /// The client went away (or the stream was dropped) before the end.
    Cancelled,
}

/// One request as the service saw it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// Path plus query, e.g. `/v1/orders?page=2` or `/orders.OrderService/WatchOrder`.
    pub path: String,
    /// Request headers (gRPC metadata for gRPC calls).
    pub headers: HeaderMap,
    pub arrived_at: Instant,
    pub finished_at: Option<Instant>,
    pub outcome: Outcome,
    /// The `grpc-status` the response carried, for gRPC calls that completed.
    pub grpc_status: Option<tonic::Code>,
}

impl RecordedRequest {
    /// Whether this request was being served at `instant`.
    pub fn was_in_flight_at(&self, instant: Instant) -> bool {
        self.arrived_at <= instant && self.finished_at.is_none_or(|end| instant <= end)
    }

    /// Whether the two requests were served at overlapping times.
    pub fn overlaps(&self, other: &RecordedRequest) -> bool {
        self.was_in_flight_at(other.arrived_at) || other.was_in_flight_at(self.arrived_at)
    }
}

/// How many records a service keeps: the oldest are forgotten first, so a
/// long benchmark run cannot exhaust memory.
pub const RECORD_CAPACITY: usize = 10_000;

/// The records kept, plus counters that survive the capacity limit.
#[derive(Debug, Default)]
struct RecordLog {
    entries: VecDeque<(u64, RecordedRequest)>,
    last_id: u64,
    /// Requests received since the start or the last clear.
    received: usize,
}

/// The request log of one service.
pub(crate) struct Recorder {
    log: Mutex<RecordLog>,
    /// Bumped on every arrival and finish, so tests can await changes.
    changes: watch::Sender<u64>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let log = self.lock();
        f.debug_struct("Recorder")
            .field("kept", &log.entries.len())
            .field("received", &log.received)
            .finish()
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            log: Mutex::default(),
            changes: watch::channel(0).0,
        }
    }
}

impl Recorder {
    /// Opens a record for `request`; the guard closes it.
    pub(crate) fn open<B>(self: &Arc<Self>, request: &Request<B>) -> RecordGuard {
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned();
        let record = RecordedRequest {
            method: request.method().to_string(),
            path,
            headers: request.headers().clone(),
            arrived_at: Instant::now(),
            finished_at: None,
            outcome: Outcome::InFlight,
            grpc_status: None,
        };
        let id = {
            let mut log = self.lock();
            log.last_id += 1;
            log.received += 1;
            let id = log.last_id;
            if log.entries.len() == RECORD_CAPACITY {
                log.entries.pop_front();
            }
            log.entries.push_back((id, record));
            id
        };
        self.bump();
        RecordGuard {
            recorder: Arc::clone(self),
            id,
            grpc_status: None,
            closed: false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RecordLog> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bump(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    fn close(&self, id: u64, outcome: Outcome, grpc_status: Option<tonic::Code>) {
        let mut log = self.lock();
        if let Some((_, record)) = log.entries.iter_mut().rev().find(|(rid, _)| *rid == id) {
            record.finished_at = Some(Instant::now());
            record.outcome = outcome;
            record.grpc_status = grpc_status;
        }
        drop(log);
        self.bump();
    }

    pub(crate) fn snapshot(&self) -> Vec<RecordedRequest> {
        self.lock().entries.iter().map(|(_, r)| r.clone()).collect()
    }

    /// Requests received since the start or the last clear (not capped).
    pub(crate) fn count(&self) -> usize {
        self.lock().received
    }

    pub(crate) fn clear(&self) {
        let mut log = self.lock();
        log.entries.clear();
        log.received = 0;
        drop(log);
        self.bump();
    }

    pub(crate) fn watch_changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }
}

/// Closes its record exactly once: `Completed` when the response body has
/// ended, `Cancelled` when dropped before that.
#[derive(Debug)]
pub(crate) struct RecordGuard {
    recorder: Arc<Recorder>,
    id: u64,
    grpc_status: Option<tonic::Code>,
    closed: bool,
}

impl RecordGuard {
    /// Wraps `response` so that the record closes when its body ends.
    pub(crate) fn attach(mut self, response: Response<Body>) -> Response<Body> {
        self.grpc_status = grpc_status_of(response.headers());
        let status = response.status();
        if response.body().is_end_stream() {
            // Nothing left to send: finished now, not when hyper drops it.
            self.close(Outcome::Completed(status));
        }
        response.map(|inner| {
            Body::new(RecordingBody {
                inner,
                status,
                guard: Some(self),
            })
        })
    }

    fn close(&mut self, outcome: Outcome) {
        if !self.closed {
            self.closed = true;
            self.recorder.close(self.id, outcome, self.grpc_status);
        }
    }
}

impl Drop for RecordGuard {
    fn drop(&mut self) {
        self.close(Outcome::Cancelled);
    }
}

fn grpc_status_of(headers: &HeaderMap) -> Option<tonic::Code> {
    let raw = headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .parse::<i32>()
        .ok()?;
    Some(tonic::Code::from_i32(raw))
}

/// A response body that closes its record when it ends or is dropped.
struct RecordingBody {
    inner: Body,
    status: StatusCode,
    guard: Option<RecordGuard>,
}

impl RecordingBody {
    fn finish(&mut self, outcome: Outcome) {
        if let Some(mut guard) = self.guard.take() {
            guard.close(outcome);
        }
    }
}

impl http_body::Body for RecordingBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let completed = Outcome::Completed(self.status);
        match &polled {
            Poll::Ready(None) => self.finish(completed),
            Poll::Ready(Some(Err(_))) => self.finish(Outcome::Cancelled),
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(trailers), Some(guard)) = (frame.trailers_ref(), self.guard.as_mut()) {
                    guard.grpc_status = grpc_status_of(trailers).or(guard.grpc_status);
                }
                if self.inner.is_end_stream() {
                    self.finish(completed);
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for RecordingBody {
    fn drop(&mut self) {
        let outcome = if self.inner.is_end_stream() {
            Outcome::Completed(self.status)
        } else {
            Outcome::Cancelled
        };
        self.finish(outcome);
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;

    use super::*;

    async fn drain(body: Body) {
        let _ = body.collect().await;
    }

    fn request() -> Request<()> {
        Request::builder().uri("/v1/x?y=1").body(()).unwrap()
    }

    #[tokio::test]
    async fn a_fully_read_body_completes_the_record() {
        let recorder = Arc::new(Recorder::default());
        let response = recorder
            .open(&request())
            .attach(Response::new(Body::from("hello")));
        assert_eq!(recorder.snapshot()[0].outcome, Outcome::InFlight);
        drain(response.into_body()).await;
        let record = &recorder.snapshot()[0];
        assert_eq!(record.outcome, Outcome::Completed(StatusCode::OK));
        assert_eq!(record.path, "/v1/x?y=1");
        assert!(record.finished_at.is_some());
    }

    #[test]
    fn the_log_keeps_the_newest_records_and_counts_all() {
        let recorder = Arc::new(Recorder::default());
        for _ in 0..RECORD_CAPACITY + 5 {
            recorder
                .open(&request())
                .attach(Response::new(Body::empty()));
        }
        assert_eq!(recorder.snapshot().len(), RECORD_CAPACITY);
        assert_eq!(recorder.count(), RECORD_CAPACITY + 5);
        recorder.clear();
        assert_eq!((recorder.snapshot().len(), recorder.count()), (0, 0));
    }

    #[test]
    fn dropping_before_the_response_cancels() {
        let recorder = Arc::new(Recorder::default());
        drop(recorder.open(&request()));
        assert_eq!(recorder.snapshot()[0].outcome, Outcome::Cancelled);
    }

    #[test]
    fn dropping_an_unfinished_stream_cancels() {
        let recorder = Arc::new(Recorder::default());
        let stream = futures::stream::pending::<Result<Bytes, std::io::Error>>();
        let response = recorder
            .open(&request())
            .attach(Response::new(Body::from_stream(stream)));
        drop(response);
        assert_eq!(recorder.snapshot()[0].outcome, Outcome::Cancelled);
    }

    #[test]
    fn an_empty_body_dropped_unpolled_completes() {
        let recorder = Arc::new(Recorder::default());
        drop(
            recorder
                .open(&request())
                .attach(Response::new(Body::empty())),
        );
        assert_eq!(
            recorder.snapshot()[0].outcome,
            Outcome::Completed(StatusCode::OK)
        );
    }
}
