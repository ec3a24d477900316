//! The listener: accept loop, HTTP/1.1 + h2c connections, graceful drain.
//! The main listener's acceptor hands connections to the workers
//! ([`crate::workers`]), each of which serves its own with [`serve`]; the
//! admin listener is served directly.
//!
//! Each connection is served by hyper-util's auto builder (HTTP/1.1 or
//! HTTP/2 prior knowledge, sniffed from the first bytes) with upgrades
//! enabled (WebSocket routes) and a header-read timeout (hyper needs a
//! timer for it). On shutdown the loop stops accepting, every connection
//! is told to finish its in-flight requests, and the drain waits up to the
//! grace period.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use crate::body::GatewayBody;
use crate::client_body;
use crate::config::model::RequestLimits;
use crate::context::ClientAddr;
use crate::layers::GatewayService;
use crate::workers::WorkerSet;

/// Connection settings fixed at start (not reloadable).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionSettings {
    pub header_read_timeout: Duration,
    pub shutdown_grace: Duration,
    /// Request-head bounds hyper enforces (431 / 414 before any service).
    pub request_limits: RequestLimits,
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

impl IncomingConnections for TcpListener {
    type Held = ();

    async fn next(&mut self) -> Option<std::io::Result<(TcpStream, SocketAddr, ())>> {
        Some(self.accept().await.map(|(stream, peer)| (stream, peer, ())))
    }
}

/// Serves `service` on the connections from `incoming` until `shutdown`
/// resolves (or no more connections can come), then drains. Returns true
/// if every connection finished within the grace period.
pub async fn serve(
    mut incoming: impl IncomingConnections,
    service: GatewayService,
    settings: ConnectionSettings,
    shutdown: impl Future<Output = ()>,
) -> bool {
    let graceful = GracefulShutdown::new();
    let builder = connection_builder(settings);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = incoming.next() => match accepted {
                Some(Ok((stream, peer, held))) => {
                    let _ = stream.set_nodelay(true);
                    let hyper_service = TowerToHyperService::new(per_connection(service.clone(), peer));
                    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), hyper_service);
                    let watched = graceful.watch(connection.into_owned());
                    tokio::spawn(async move {
                        let _held = held;
                        if let Err(error) = watched.await {
                            tracing::debug!(%peer, %error, "connection ended with an error");
                        }
                    });
                }
                Some(Err(error)) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                None => break,
            },
            () = &mut shutdown => break,
        }
    }
    drop(incoming);
    tokio::time::timeout(settings.shutdown_grace, graceful.shutdown())
        .await
        .is_ok()
}

/// Accepts on `listener` and hands every connection to a worker, until
/// `shutdown` resolves.
pub async fn accept_for_workers(
    listener: TcpListener,
    workers: &WorkerSet,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => workers.hand(stream, peer),
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
}

fn connection_builder(settings: ConnectionSettings) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .enable_connect_protocol();
    apply_request_limits(&mut builder, &settings.request_limits);
    builder
}

/// The head bounds hyper enforces: HTTP/1.1's read buffer (a longer head
/// is answered 431) and header count (431), HTTP/2's header list size.
fn apply_request_limits(builder: &mut auto::Builder<TokioExecutor>, limits: &RequestLimits) {
    let head_bytes = limits.max_header_bytes.max(RequestLimits::MIN_HEADER_BYTES);
    let mut http1 = builder.http1();
    http1.max_buf_size(head_bytes);
    // hyper's own default is 100; setting it moves the parse buffer to the
    // heap, so only a different value is set.
    if limits.max_headers != 100 {
        http1.max_headers(limits.max_headers);
    }
    builder
        .http2()
        .max_header_list_size(u32::try_from(head_bytes).unwrap_or(u32::MAX));
}

/// Adapts the body type and records the peer address on each request.
fn per_connection(
    service: GatewayService,
    peer: SocketAddr,
) -> impl tower::Service<
    Request<Incoming>,
    Response = Response<GatewayBody>,
    Error = Infallible,
    Future: Send,
> + Clone {
    service.map_request(move |request: Request<Incoming>| {
        let mut request = request.map(client_body::from_incoming);
        request.extensions_mut().insert(ClientAddr(peer));
        request
    })
}
