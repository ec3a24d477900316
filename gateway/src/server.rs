//! The listener: accept loop, HTTP/1.1 + h2c connections (or HTTP/1.1
//! and h2 over TLS, [`serve_tls`]), graceful drain.
//! The main listener's acceptor hands connections to the workers
//! ([`crate::workers`]), each of which serves its own with [`serve`]; the
//! admin listener is served directly.
//!
//! Each connection is served by hyper-util's auto builder (HTTP/1.1 or
//! HTTP/2 prior knowledge, sniffed from the first bytes) with upgrades
//! enabled (WebSocket routes). Its time is bounded from accept on: the
//! socket wrapper [`head_deadline`] keeps the header-read deadline (which
//! covers the sniff and answers 408 where HTTP/1 allows) and the HTTP/1
//! keep-alive deadline; the connection's [`driver`] closes HTTP/2 connections
//! idle for `server.idle_timeout` with a GOAWAY; hyper's HTTP/2 pings drop
//! peers that stop answering. [`activity`] is what they share. On
//! shutdown the loop stops accepting, every connection is told to finish
//! its in-flight requests, and the drain waits up to the grace period.
//!
//! The acceptor closes new connections past `server.max_connections` or
//! the per-worker limit (counted by [`crate::workers`]), the admin
//! listener past [`ADMIN_MAX_CONNECTIONS`]. Both accept loops back off
//! when accepting fails for lack of resources (`EMFILE`, ...), and every
//! such event is logged once per interval ([`accept_errors`]). Listeners
//! are bound with an explicit backlog ([`listener`]).

mod accept_errors;
mod activity;
mod driver;
mod early_response;
mod head_deadline;
mod lingering_close;
mod listener;
mod parser_refusal;
mod plain_on_tls;
mod tracked;

pub use listener::bind;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::accept_errors::{AcceptErrors, LOG_INTERVAL, LogEvery};
use crate::config::model::{Http2Settings, RequestLimits, ServerSettings};
use crate::layers::GatewayService;
use crate::observe::SharedRefusals;
use crate::workers::{Refused, WorkerSet};

/// Most connections the admin listener serves at once.
pub const ADMIN_MAX_CONNECTIONS: usize = 128;

/// How many connections the acceptor lets in (`server.max_connections`,
/// `server.max_connections_per_worker`).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub total: usize,
    pub per_worker: usize,
}

/// Connection settings fixed at start (not reloadable).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionSettings {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub send_timeout: Duration,
    pub http2: Http2Settings,
    pub limits: ConnectionLimits,
    pub shutdown_grace: Duration,
    /// Request-head bounds hyper enforces (431 / 414 before any service).
    pub request_limits: RequestLimits,
}

impl ConnectionSettings {
    pub fn from_server(server: &ServerSettings) -> Self {
        Self {
            header_read_timeout: server.header_read_timeout,
            idle_timeout: server.idle_timeout,
            send_timeout: server.send_timeout,
            http2: server.http2,
            limits: ConnectionLimits {
                total: server.max_connections,
                per_worker: server.max_connections_per_worker,
            },
            shutdown_grace: server.shutdown_grace,
            request_limits: server.request_limits,
        }
    }
}

/// Where connections come from: a listener (the admin port), or the
/// acceptor's hand-offs to a worker ([`crate::workers`]).
pub trait IncomingConnections {
    /// Kept alive as long as the connection is served.
    type Held: Send + 'static;

    /// The next connection; `None` when no more will come.
    fn next(
        &mut self,
    ) -> impl Future<Output = Option<std::io::Result<(TcpStream, SocketAddr, Self::Held)>>>;
}

/// A listener served directly (the admin port), with its own cap on open
/// connections: past it, new connections are closed at once.
#[derive(Debug)]
pub struct CappedListener {
    listener: TcpListener,
    open: Arc<AtomicUsize>,
    max: usize,
    refusals: LogEvery,
}

impl CappedListener {
    pub fn new(listener: TcpListener, max: usize) -> Self {
        Self {
            listener,
            open: Arc::default(),
            max,
            refusals: LogEvery::new(LOG_INTERVAL),
        }
    }
}

/// One open connection of a [`CappedListener`].
#[derive(Debug)]
pub struct CappedSlot(Arc<AtomicUsize>);

impl Drop for CappedSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl IncomingConnections for CappedListener {
    type Held = CappedSlot;

    async fn next(&mut self) -> Option<std::io::Result<(TcpStream, SocketAddr, CappedSlot)>> {
        loop {
            let (stream, peer) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => return Some(Err(error)),
            };
            if self.open.load(Ordering::Relaxed) < self.max {
                self.open.fetch_add(1, Ordering::Relaxed);
                return Some(Ok((stream, peer, CappedSlot(Arc::clone(&self.open)))));
            }
            if let Some(count) = self.refusals.record(Instant::now()) {
                tracing::warn!(%peer, refused = count, limit = self.max, "admin connection limit reached; closing new connections");
            }
        }
    }
}

/// Where a TLS listener's connections get their rustls config: asked at
/// each handshake, so a reload (a rotated certificate) applies to the
/// next connection while open ones keep their session. `None` closes
/// the connection.
pub type TlsConfigSource = Arc<dyn Fn() -> Option<ConnectionTls> + Send + Sync>;

/// What one TLS connection is served with, taken at its accept.
#[derive(Clone)]
pub struct ConnectionTls {
    pub config: Arc<rustls::ServerConfig>,
    /// `Strict-Transport-Security`, set on every response of the
    /// connection (`server.tls.hsts`).
    pub hsts: Option<http::HeaderValue>,
}

/// What a listener's connections share besides the service and the
/// settings: TLS, and where refused request heads are reported.
#[derive(Clone, Default)]
pub struct ListenerParts {
    /// Terminate TLS on every connection with the config it gives.
    pub tls: Option<TlsConfigSource>,
    pub refusals: SharedRefusals,
}

/// Serves `service` on the connections from `incoming` until `shutdown`
/// resolves (or no more connections can come), then drains. Returns true
/// if every connection finished within the grace period.
pub async fn serve(
    incoming: impl IncomingConnections,
    service: GatewayService,
    settings: ConnectionSettings,
    shutdown: impl Future<Output = ()>,
) -> bool {
    serve_tls(
        incoming,
        service,
        settings,
        ListenerParts::default(),
        shutdown,
    )
    .await
}

/// [`serve`], terminating TLS on every connection when `parts.tls` is set
/// and reporting refused heads to `parts.refusals`.
pub async fn serve_tls(
    mut incoming: impl IncomingConnections,
    service: GatewayService,
    settings: ConnectionSettings,
    parts: ListenerParts,
    shutdown: impl Future<Output = ()>,
) -> bool {
    let ListenerParts { tls, refusals } = parts;
    let builder = Arc::new(connection_builder(&settings));
    let connections = TaskTracker::new();
    let draining = CancellationToken::new();
    let mut accept_errors = AcceptErrors::default();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = incoming.next() => match accepted {
                Some(Ok((stream, peer, held))) => {
                    accept_errors.succeeded();
                    let tls_config = match &tls {
                        None => None,
                        Some(source) => match source() {
                            Some(config) => Some(config),
                            None => {
                                tracing::warn!(%peer, "no TLS config for the listener; closing the connection");
                                continue;
                            }
                        },
                    };
                    let accepted = driver::Accepted { stream, peer, tls: tls_config };
                    let connection = driver::serve_connection(Arc::clone(&builder), accepted, service.clone(), settings, draining.clone(), refusals.clone());
                    connections.spawn(async move {
                        let _held = held;
                        connection.await;
                    });
                }
                Some(Err(error)) => {
                    let pause = accept_errors.failed(&error, "connections");
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        () = &mut shutdown => break,
                    }
                }
                None => break,
            },
            () = &mut shutdown => break,
        }
    }
    drop(incoming);
    draining.cancel();
    connections.close();
    tokio::time::timeout(settings.shutdown_grace, connections.wait())
        .await
        .is_ok()
}

/// Accepts on `listener` and hands every connection to a worker, until
/// `shutdown` resolves. Connections over a limit are closed at once and
/// logged once per interval.
pub async fn accept_for_workers(
    listener: TcpListener,
    workers: &WorkerSet,
    shutdown: impl Future<Output = ()>,
) {
    let mut accept_errors = AcceptErrors::default();
    let mut refusals = LogEvery::new(LOG_INTERVAL);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    accept_errors.succeeded();
                    if let Err(reason @ (Refused::TotalLimit | Refused::WorkerLimit)) = workers.hand(stream, peer)
                        && let Some(count) = refusals.record(Instant::now())
                    {
                        tracing::warn!(%peer, ?reason, refused = count, "connection limit reached; closing new connections (logged at most every 10 s)");
                    }
                }
                Err(error) => {
                    let pause = accept_errors.failed(&error, "main");
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        }
    }
}

fn connection_builder(settings: &ConnectionSettings) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper's own header timeout closes silently and starts late; the
    // socket wrapper keeps the deadline instead.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .keep_alive(true);
    let http2 = &settings.http2;
    builder
        .http2()
        .timer(TokioTimer::new())
        .enable_connect_protocol()
        .keep_alive_interval(http2.keepalive_interval)
        .keep_alive_timeout(http2.keepalive_timeout)
        .max_concurrent_streams(http2.max_concurrent_streams)
        .max_header_list_size(http2.max_header_list_size)
        .max_pending_accept_reset_streams(http2.max_pending_accept_reset_streams)
        .max_local_error_reset_streams(http2.max_local_error_reset_streams);
    apply_request_limits(
        &mut builder,
        &settings.request_limits,
        http2.max_header_list_size,
    );
    builder
}

/// The head bounds hyper enforces: HTTP/1.1's read buffer (a longer head
/// is answered 431) and header count (431); on HTTP/2 the header list is
/// bounded by the smaller of `server.max_header_bytes` and
/// `server.http2.max_header_list_size`.
fn apply_request_limits(
    builder: &mut auto::Builder<TokioExecutor>,
    limits: &RequestLimits,
    http2_header_list: u32,
) {
    let head_bytes = limits.max_header_bytes.max(RequestLimits::MIN_HEADER_BYTES);
    let mut http1 = builder.http1();
    http1.max_buf_size(head_bytes);
    // hyper's own default is 100; setting it moves the parse buffer to the
    // heap, so only a different value is set.
    if limits.max_headers != 100 {
        http1.max_headers(limits.max_headers);
    }
    let head_bytes = u32::try_from(head_bytes).unwrap_or(u32::MAX);
    builder
        .http2()
        .max_header_list_size(head_bytes.min(http2_header_list));
}
