//! The listener: accept loop, HTTP/1.1 + h2c connections, graceful drain.
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
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::body::{self, GatewayBody};
use crate::context::ClientAddr;
use crate::layers::GatewayService;

/// Connection settings fixed at start (not reloadable).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionSettings {
    pub header_read_timeout: Duration,
    pub shutdown_grace: Duration,
}

/// Serves `service` on `listener` until `shutdown` resolves, then drains.
/// Returns true if every connection finished within the grace period.
pub async fn serve(
    listener: TcpListener,
    service: GatewayService,
    settings: ConnectionSettings,
    shutdown: impl Future<Output = ()>,
) -> bool {
    let graceful = GracefulShutdown::new();
    let builder = connection_builder(settings);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let hyper_service = TowerToHyperService::new(per_connection(service.clone(), peer));
                    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), hyper_service);
                    let watched = graceful.watch(connection.into_owned());
                    tokio::spawn(async move {
                        if let Err(error) = watched.await {
                            tracing::debug!(%peer, %error, "connection ended with an error");
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::time::timeout(settings.shutdown_grace, graceful.shutdown())
        .await
        .is_ok()
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
    builder
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
        let mut request = request.map(body::boxed);
        request.extensions_mut().insert(ClientAddr(peer));
        request
    })
}
