//! Upgraded connections (HTTP/1.1 `Upgrade`, e.g. WebSocket) through a
//! pool: the same balancer, connection limit and passive ejection as any
//! request, with the connection counted in flight (and holding one of
//! the pool's connection slots) for as long as it stays open.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{Request, Response, StatusCode};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;

use super::super::endpoint::InFlightGuard;
use super::super::error::UpstreamError;
use super::{UpstreamPool, join_uri, request_with};
use crate::body;

/// An upgraded upstream connection. Dropping it closes the connection
/// and frees its slot.
pub struct UpgradedConnection {
    io: TokioIo<Upgraded>,
    _in_flight: InFlightGuard,
    _slot: OwnedSemaphorePermit,
}

impl std::fmt::Debug for UpgradedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpgradedConnection").finish_non_exhaustive()
    }
}

impl UpstreamPool {
    /// Sends a bodiless upgrade request (origin-form URI) to one of the
    /// backend's endpoints and, on `101 Switching Protocols`, returns the
    /// response head and the upgraded connection. `timeout` bounds the
    /// wait for a connection slot plus the handshake. An endpoint that
    /// refuses the connection is ejected as usual and the next is tried.
    pub async fn upgrade(
        &self,
        request: Request<()>,
        timeout: Duration,
    ) -> Result<(Response<()>, UpgradedConnection), UpstreamError> {
        match tokio::time::timeout(timeout, self.upgrade_within_deadline(request)).await {
            Ok(result) => result,
            Err(_) => Err(UpstreamError::Timeout {
                backend: self.spec.name.clone(),
                after: timeout,
            }),
        }
    }

    async fn upgrade_within_deadline(
        &self,
        request: Request<()>,
    ) -> Result<(Response<()>, UpgradedConnection), UpstreamError> {
        let slot = Arc::clone(&self.limit)
            .acquire_owned()
            .await
            .map_err(|_| self.unavailable("pool closed", None))?;
        let (head, ()) = request.into_parts();
        let mut tried = Vec::new();
        loop {
            let (index, endpoint) = self
                .balancer
                .pick(&self.endpoints, &tried, Instant::now())
                .ok_or_else(|| self.unavailable("every endpoint refused the connection", None))?;
            tried.push(index);
            let uri = join_uri(&endpoint.base, &head.uri)
                .map_err(|e| self.unavailable("bad upstream URI", Some(e.into())))?;
            let attempt = request_with(&head, uri, body::empty());
            let in_flight = endpoint.start_request();
            match self.client().request(attempt).await {
                Ok(mut response) => {
                    endpoint.record_success();
                    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
                        let reason = format!("upgrade refused with HTTP {}", response.status());
                        return Err(self.unavailable(&reason, None));
                    }
                    let upgraded = hyper::upgrade::on(&mut response)
                        .await
                        .map_err(|e| self.unavailable("upgrade failed", Some(e.into())))?;
                    let connection = UpgradedConnection {
                        io: TokioIo::new(upgraded),
                        _in_flight: in_flight,
                        _slot: slot,
                    };
                    return Ok((response.map(drop_body), connection));
                }
                Err(error) if error.is_connect() => {
                    endpoint.record_connect_failure(&self.spec.ejection, Instant::now());
                    if tried.len() >= self.endpoints.len() {
                        return Err(self.unavailable("connection failed", Some(error.into())));
                    }
                }
                Err(error) => {
                    return Err(
                        self.unavailable("connection lost before a response", Some(error.into()))
                    );
                }
            }
        }
    }
}

fn drop_body(_: hyper::body::Incoming) {}

impl AsyncRead for UpgradedConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for UpgradedConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
