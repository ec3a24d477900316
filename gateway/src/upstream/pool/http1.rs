//! HTTP/1.1 connections to one backend's endpoints, kept per worker
//! thread, for every plain request to an `http1` backend (HTTP/2 backends
//! and upgrades keep hyper-util's client, whose pool multiplexes h2
//! streams and hands over upgraded connections).
//!
//! Written here rather than taken from hyper-util because a measurement
//! decided it: on the proxy path its legacy pool cost about 8,000 of the
//! 69,000 instructions of a request (callgrind, worker threads): each
//! checkout and check-in hashes the pool key (scheme and authority) with
//! SipHash, the idle map's entry is removed whenever its list empties and
//! inserted again at the next check-in, every HTTP/1 response spawns a
//! task that waits for the connection to be ready before it goes back to
//! the pool, and the `Host` header is formatted per request.
//!
//! Here each worker keeps, per endpoint, a stack of idle connections
//! behind a lock no other thread takes in the common case:
//! - a checkout takes the most recently used connection (warm), skipping
//!   closed ones and those idle longer than the idle timeout, else opens a
//!   new one (TCP, TLS for `https://`, hyper's HTTP/1 handshake; the
//!   connection is driven by a task on the worker);
//! - a connection goes back on its stack when its response body ends; a
//!   body dropped before its end takes the connection with it (hyper then
//!   closes it), as does a response with `Connection: close` (the next
//!   checkout finds it closed);
//! - a reused connection that the server closed before the request was
//!   written is replaced by a new one, and the request sent there (never
//!   twice: hyper hands back only a request it did not write);
//! - at most `max_connections` idle connections per endpoint and worker,
//!   and a sweeper closes those idle longer than the timeout.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Response, Uri, header};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{Builder, SendRequest};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use tower::ServiceExt;

use crate::body::{BoxError, GatewayBody};

/// How long a connection may stay idle before it is closed (hyper-util's
/// default, which this replaces).
pub(super) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// One backend's HTTP/1.1 connections.
#[derive(Debug)]
pub(super) struct Http1Connections {
    connector: HttpsConnector<HttpConnector>,
    /// Per endpoint (in `urls` order): where to connect, and its `Host`.
    targets: Box<[Target]>,
    /// Per worker: its idle connections.
    idle: Box<[Mutex<WorkerIdle>]>,
    max_idle: usize,
    idle_timeout: Duration,
}

#[derive(Debug)]
struct Target {
    base: Uri,
    host: HeaderValue,
}

/// One worker's idle connections, per endpoint, most recent last.
type WorkerIdle = Box<[Vec<Idle>]>;

#[derive(Debug)]
struct Idle {
    sender: SendRequest<GatewayBody>,
    since: Instant,
}

impl Idle {
    /// Still open, and idle for less than `timeout`.
    fn is_usable(&self, timeout: Duration) -> bool {
        !self.sender.is_closed() && self.since.elapsed() < timeout
    }
}

/// Why a request got no response.
#[derive(Debug)]
pub(super) enum SendError {
    /// No connection could be made (TCP or TLS); nothing was sent.
    Connect(BoxError),
    /// The connection failed after the request was handed to it.
    Lost(BoxError),
    /// The backend's response could not be read (a protocol error), or
    /// could not be forwarded as it is (`send::unforwardable`): the
    /// backend answered, badly, which is counted as its 502.
    Invalid(BoxError),
}

impl SendError {
    /// A request's failure after a client (ours or hyper-util's) took it:
    /// the backend's protocol error when a hyper parse error is in its
    /// chain, else a lost connection.
    pub(super) fn after_sending(error: BoxError) -> Self {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error.as_ref());
        while let Some(current) = cause {
            if current
                .downcast_ref::<hyper::Error>()
                .is_some_and(hyper::Error::is_parse)
            {
                return SendError::Invalid(error);
            }
            cause = current.source();
        }
        SendError::Lost(error)
    }
}

impl Http1Connections {
    /// Connections to `endpoints` (base URLs) for `workers` worker
    /// threads, keeping at most `max_idle` idle per endpoint and worker.
    pub(super) fn new(
        connector: HttpsConnector<HttpConnector>,
        endpoints: &[Uri],
        workers: usize,
        max_idle: usize,
        idle_timeout: Duration,
    ) -> Arc<Self> {
        let targets = endpoints
            .iter()
            .map(|base| Target {
                base: base.clone(),
                host: host_header(base),
            })
            .collect::<Box<[_]>>();
        let idle = (0..workers.max(1))
            .map(|_| Mutex::new(targets.iter().map(|_| Vec::new()).collect()))
            .collect();
        let connections = Arc::new(Self {
            connector,
            targets,
            idle,
            max_idle: max_idle.max(1),
            idle_timeout,
        });
        start_sweeper(&connections);
        connections
    }

    /// Sends `request` (its URI absolute, on endpoint `endpoint`'s base)
    /// over an idle connection to that endpoint or a new one.
    pub(super) async fn send(
        self: &Arc<Self>,
        endpoint: usize,
        mut request: Request<GatewayBody>,
    ) -> Result<Response<PooledBody>, SendError> {
        let target = &self.targets[endpoint];
        request
            .headers_mut()
            .entry(header::HOST)
            .or_insert_with(|| target.host.clone());
        into_origin_form(request.uri_mut());
        let worker = crate::workers::current_index() % self.idle.len();
        loop {
            let (mut sender, reused) = match self.take_idle(worker, endpoint) {
                Some(sender) => (sender, true),
                // Boxed: the connect future (about 1.3 KB) would
                // otherwise sit in this one's state, and so in every
                // enclosing future down to the route's handler, which is
                // copied whole when it is moved (measured: print-type-size
                // and callgrind, docs/latency-comparison.md); a reused
                // connection, the usual case, needs none.
                None => (Box::pin(self.connect(&target.base)).await?, false),
            };
            if reused && sender.ready().await.is_err() {
                // Closed while idle: nothing was sent on it.
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => {
                    let checkin = Checkin {
                        connections: Arc::clone(self),
                        worker,
                        endpoint,
                        sender,
                    };
                    return Ok(response.map(|inner| PooledBody::returning(inner, checkin)));
                }
                Err(mut error) => match error.take_message() {
                    // Never written: the server closed the reused
                    // connection first. Once more, on a new one.
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(SendError::after_sending(error.into_error().into())),
                },
            }
        }
    }

    /// The most recently used idle connection to `endpoint` that is still
    /// open and not past the idle timeout.
    fn take_idle(&self, worker: usize, endpoint: usize) -> Option<SendRequest<GatewayBody>> {
        let mut idle = self.idle[worker]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let stack = &mut idle[endpoint];
        while let Some(connection) = stack.pop() {
            if connection.is_usable(self.idle_timeout) {
                return Some(connection.sender);
            }
        }
        None
    }

    /// Puts a connection whose response has ended back on its stack.
    fn check_in(&self, worker: usize, endpoint: usize, sender: SendRequest<GatewayBody>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle[worker]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let stack = &mut idle[endpoint];
        if stack.len() < self.max_idle {
            stack.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    /// Opens a connection to `base` and starts the task that drives it.
    async fn connect(&self, base: &Uri) -> Result<SendRequest<GatewayBody>, SendError> {
        let io = self
            .connector
            .clone()
            .oneshot(base.clone())
            .await
            .map_err(SendError::Connect)?;
        let (sender, connection) = Builder::new()
            .handshake(io)
            .await
            .map_err(|error| SendError::Connect(error.into()))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(error = %error, "upstream connection closed with an error");
            }
        });
        Ok(sender)
    }

    /// Closes the idle connections past the timeout or already closed.
    fn sweep(&self) {
        for worker in self.idle.iter() {
            let mut idle = worker.lock().unwrap_or_else(PoisonError::into_inner);
            for stack in idle.iter_mut() {
                stack.retain(|connection| connection.is_usable(self.idle_timeout));
            }
        }
    }

    /// How many idle connections the pool holds (tests).
    #[cfg(test)]
    fn idle_count(&self) -> usize {
        self.idle
            .iter()
            .map(|worker| {
                let idle = worker.lock().unwrap_or_else(PoisonError::into_inner);
                idle.iter().map(Vec::len).sum::<usize>()
            })
            .sum()
    }
}

/// Sweeps `connections` every half idle timeout while they exist (no
/// sweeper without a runtime: a pool built outside one, as by `gateway
/// check`, opens no connection either).
fn start_sweeper(connections: &Arc<Http1Connections>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let every = connections.idle_timeout / 2;
    let weak: Weak<Http1Connections> = Arc::downgrade(connections);
    runtime.spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(connections) = weak.upgrade() else {
                return;
            };
            connections.sweep();
        }
    });
}

/// `Host` for requests to `base`: its host, and its port unless the
/// scheme's default (as hyper-util's client writes it).
fn host_header(base: &Uri) -> HeaderValue {
    let host = base.host().unwrap_or_default();
    let default_port = match base.scheme_str() {
        Some("https") => 443,
        _ => 80,
    };
    let text = match base.port_u16() {
        Some(port) if port != default_port => format!("{host}:{port}"),
        _ => host.to_owned(),
    };
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// An HTTP/1 request line carries the path and query only.
fn into_origin_form(uri: &mut Uri) {
    let path = uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    let mut parts = http::uri::Parts::default();
    parts.path_and_query = Some(path);
    if let Ok(origin) = Uri::from_parts(parts) {
        *uri = origin;
    }
}

/// What returns a connection to its stack.
struct Checkin {
    connections: Arc<Http1Connections>,
    worker: usize,
    endpoint: usize,
    sender: SendRequest<GatewayBody>,
}

impl Checkin {
    fn check_in(self) {
        self.connections
            .check_in(self.worker, self.endpoint, self.sender);
    }
}

pin_project_lite::pin_project! {
    /// An upstream response body; when it came over a pooled connection,
    /// its end puts the connection back.
    pub(in crate::upstream) struct PooledBody {
        #[pin]
        inner: Incoming,
        checkin: Option<Checkin>,
    }

    impl PinnedDrop for PooledBody {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // hyper may drop a body it knows is empty without polling it.
            if this.inner.is_end_stream()
                && let Some(checkin) = this.checkin.take()
            {
                checkin.check_in();
            }
        }
    }
}

impl PooledBody {
    /// A body whose connection is not ours to return (hyper-util's).
    pub(in crate::upstream) fn unpooled(inner: Incoming) -> Self {
        Self {
            inner,
            checkin: None,
        }
    }

    fn returning(inner: Incoming, checkin: Checkin) -> Self {
        Self {
            inner,
            checkin: Some(checkin),
        }
    }
}

impl std::fmt::Debug for PooledBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledBody")
            .field("pooled", &self.checkin.is_some())
            .finish_non_exhaustive()
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        let ended = match &frame {
            None => true,
            // Trailers end an HTTP/1.1 body, and whoever reads it may stop
            // there: the connection goes back now.
            Some(Ok(frame)) => frame.is_trailers(),
            // A failed body's connection is not reused.
            Some(Err(_)) => {
                drop(this.checkin.take());
                false
            }
        };
        if ended && let Some(checkin) = this.checkin.take() {
            checkin.check_in();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests;
