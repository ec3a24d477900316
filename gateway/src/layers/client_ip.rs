//! Resolves who the client is, once per request ([`crate::client_ip`],
//! through `server.trusted_proxies`), and records it as the request's
//! [`ClientIp`]. It sits outside the rescue layer, so even a refused
//! request's log line carries the client address; it never fails.

use std::sync::Arc;
use std::task::{Context, Poll};

use arc_swap::ArcSwap;
use http::Request;
use tower::{Layer, Service};

use crate::client_ip;
use crate::context::{ClientIp, EdgeContext};
use crate::snapshot::Snapshot;

#[derive(Clone)]
pub struct ClientIpLayer {
    current: Arc<ArcSwap<Snapshot>>,
}

impl ClientIpLayer {
    pub fn new(current: Arc<ArcSwap<Snapshot>>) -> Self {
        Self { current }
    }
}

impl<S> Layer<S> for ClientIpLayer {
    type Service = ClientIpService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClientIpService {
            inner,
            current: Arc::clone(&self.current),
        }
    }
}

#[derive(Clone)]
pub struct ClientIpService<S> {
    inner: S,
    current: Arc<ArcSwap<Snapshot>>,
}

impl<S, B> Service<Request<B>> for ClientIpService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The server put the socket's client there; through a trusted
        // proxy, the client is resolved from its forwarding headers.
        let Some(socket) = EdgeContext::of(&request).map(|edge| edge.client) else {
            // No server put a socket there: the client stays unknown.
            EdgeContext::of_mut(&mut request);
            return self.inner.call(request);
        };
        let trusted = &self.current.load().config.server.trusted_proxies;
        let client = ClientIp {
            over_tls: socket.over_tls,
            ..client_ip::resolve(socket.peer, request.headers(), trusted)
        };
        if socket != client {
            EdgeContext::of_mut(&mut request).client = client;
        }
        self.inner.call(request)
    }
}
