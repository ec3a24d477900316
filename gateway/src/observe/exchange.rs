//! One request's record, filled in as the request travels and read once
//! when it ends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderValue, Method, Request, StatusCode, Uri};

use super::endpoint_name::EndpointName;
use super::observers::Observers;
use crate::config::model::RouteSpec;
use crate::context::{ClientIp, EdgeContext, RequestId};

/// The stable `code` of the error a response carries, put in the
/// response's extensions where errors are rendered (`edge_error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode(pub &'static str);

/// One upstream attempt as the access log shows it.
#[derive(Debug, Clone)]
pub struct UpstreamRecord {
    /// The backend and endpoint attempted.
    pub name: Arc<EndpointName>,
    /// The response status, when a response head arrived.
    pub status: Option<StatusCode>,
    /// From sending to the response head (or the failure).
    pub duration: Duration,
}

/// What the upstream attempts of one request add up to.
#[derive(Debug, Clone, Default)]
pub struct UpstreamSummary {
    pub attempts: u32,
    /// Sum of every attempt's duration.
    pub total: Duration,
    /// The attempt that finished last.
    pub last: Option<UpstreamRecord>,
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeEnd {
    /// The whole response body was handed to the connection.
    Completed,
    /// The response body failed, or the client went away first.
    Aborted,
}

/// One request's record.
#[derive(Debug)]
pub struct Exchange {
    pub started: Instant,
    /// The wall-clock arrival: the epoch unless a sink wants details
    /// (also `request_id`, the path and `user_agent`, then empty).
    pub started_at: SystemTime,
    pub request_id: Option<RequestId>,
    pub client: ClientIp,
    pub method: Method,
    /// The request target, read only through [`Exchange::path`]: a clone
    /// shares the parsed head's buffer (no copy, no allocation).
    uri: Option<Uri>,
    pub user_agent: Option<HeaderValue>,
    pub observers: Arc<Observers>,
    route: OnceLock<Arc<RouteSpec>>,
    trace_id: OnceLock<Box<str>>,
    consumer: OnceLock<Arc<str>>,
    upstream: Mutex<UpstreamSummary>,
    bytes_in: AtomicU64,
}

impl Exchange {
    /// Opens the record of `request`, after the request-id and client
    /// layers have run. The details only the access log reads (wall-clock
    /// start, request id, path, user agent) are gathered when a sink
    /// wants them, else left empty: the metrics alone then pay for no
    /// clock read, copy or allocation of theirs.
    pub fn begin<B>(request: &Request<B>, observers: Arc<Observers>) -> Self {
        let details = observers.wants_details();
        let edge = EdgeContext::of(request);
        let request_id = edge
            .and_then(|edge| edge.request_id.as_ref())
            .filter(|_| details)
            .cloned();
        Self {
            started: Instant::now(),
            started_at: if details {
                SystemTime::now()
            } else {
                SystemTime::UNIX_EPOCH
            },
            request_id,
            client: edge.map_or_else(ClientIp::unknown, |edge| edge.client),
            method: request.method().clone(),
            uri: details.then(|| request.uri().clone()),
            user_agent: details
                .then(|| request.headers().get(http::header::USER_AGENT).cloned())
                .flatten(),
            observers,
            route: OnceLock::new(),
            trace_id: OnceLock::new(),
            consumer: OnceLock::new(),
            upstream: Mutex::new(UpstreamSummary::default()),
            bytes_in: AtomicU64::new(0),
        }
    }

    /// The request path, without the query (which may carry secrets);
    /// empty unless a sink wants details.
    pub fn path(&self) -> &str {
        self.uri.as_ref().map_or("", Uri::path)
    }

    /// The exchange a request (or an upstream request built for it) carries.
    pub fn of<B>(request: &Request<B>) -> Option<&Arc<Exchange>> {
        EdgeContext::of(request)?.exchange.as_ref()
    }

    /// Names the matched route (the dispatcher does, once).
    pub fn set_route(&self, route: Arc<RouteSpec>) {
        let _ = self.route.set(route);
    }

    /// The matched route; `None` for requests refused before routing. Its
    /// `name` labels logs and metrics; its `path` pattern is the
    /// OpenTelemetry `http.route` (never the raw path).
    pub fn route(&self) -> Option<&Arc<RouteSpec>> {
        self.route.get()
    }

    /// Records the request's trace id (hex, as in `traceparent`), once,
    /// when traces are on.
    pub fn set_trace_id(&self, trace_id: impl Into<Box<str>>) {
        let _ = self.trace_id.set(trace_id.into());
    }

    /// The request's trace id (sampled or not), when traces are on; the
    /// access log writes it.
    pub fn trace_id(&self) -> Option<&str> {
        self.trace_id.get().map(|id| &**id)
    }

    /// Records who the authentication layer verified (an API key's
    /// consumer, a JWT's consumer claim, else its subject), once.
    pub fn set_consumer(&self, consumer: &Arc<str>) {
        let _ = self.consumer.set(Arc::clone(consumer));
    }

    /// The verified consumer, when the route authenticates; the access
    /// log writes it and the metrics count it (bounded).
    pub fn consumer(&self) -> Option<&str> {
        self.consumer.get().map(|c| &**c)
    }

    /// Counts request body bytes as they are read.
    pub fn add_bytes_in(&self, bytes: u64) {
        self.bytes_in.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn bytes_in(&self) -> u64 {
        self.bytes_in.load(Ordering::Relaxed)
    }

    /// Records a finished upstream attempt (see `UpstreamAttempt`), when
    /// a sink reads the summary. The lock is the request's own, never
    /// shared between requests.
    pub fn record_upstream(&self, record: UpstreamRecord) {
        if !self.observers.wants_details() {
            return;
        }
        let mut summary = self.upstream.lock().unwrap_or_else(PoisonError::into_inner);
        summary.attempts += 1;
        summary.total += record.duration;
        summary.last = Some(record);
    }

    /// The upstream attempts so far, borrowed under the exchange's own
    /// lock (for the sinks at the request's end; never held across an
    /// await).
    pub fn lock_upstream(&self) -> MutexGuard<'_, UpstreamSummary> {
        self.upstream.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
