//! The per-connection service: adapts the body type, records the peer
//! address on each request, and counts the request in flight on the
//! connection's [`ConnActivity`] until its response body is done (hyper
//! drops the body once it has written the last frame). An upgrade (101)
//! or an HTTP/2 CONNECT tunnel marks the connection as a tunnel, which no
//! idle or header deadline touches.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{HeaderValue, Method, Request, Response, StatusCode, Version};
use http_body::Body as _;
use hyper::body::Incoming;

use super::activity::{ConnActivity, RequestGuard};
use super::early_response::{self, BodyEnd, WatchedBody};
use crate::body::{GatewayBody, HoldingBody};
use crate::client_body;
use crate::context::{ClientIp, EdgeContext};
use crate::layers::GatewayService;

/// The gateway service as one connection serves it.
#[derive(Clone)]
pub struct TrackedService {
    pub service: GatewayService,
    pub peer: SocketAddr,
    pub activity: Arc<ConnActivity>,
    /// The connection is TLS (each request's [`ClientIp`] says so).
    pub tls: bool,
    /// `Strict-Transport-Security` for every response (TLS only).
    pub hsts: Option<HeaderValue>,
}

impl tower::Service<Request<Incoming>> for TrackedService {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = TrackedCall;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.service.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Incoming>) -> TrackedCall {
        let in_flight = self.activity.begin_request();
        let connect = request.method() == Method::CONNECT;
        // HTTP/1 with a body: watch for its end (see `early_response`).
        let body_end = (request.version() <= Version::HTTP_11 && !request.body().is_end_stream())
            .then(BodyEnd::default);
        let mut request = request.map(|incoming| match &body_end {
            Some(end) => client_body::from_body(WatchedBody::new(incoming, end.clone())),
            None => client_body::from_incoming(incoming),
        });
        // The socket's client; the edge layers fill in the rest of the
        // edge context in place (one extension, not one per fact).
        request.extensions_mut().insert(EdgeContext::new(ClientIp {
            over_tls: self.tls,
            ..ClientIp::direct(self.peer)
        }));
        TrackedCall {
            // hyper-util clones this service for each request and polls it
            // ready first, so the stack is this request's own: no second
            // clone of it (an allocation, and reference counts shared by
            // every worker) as `oneshot` would make.
            call: self.service.call(request),
            in_flight: Some(in_flight),
            connect,
            body_end,
            hsts: self.hsts.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// One request's call; its guard moves into the response body.
    pub struct TrackedCall {
        #[pin]
        call: <GatewayService as tower::Service<Request<GatewayBody>>>::Future,
        in_flight: Option<RequestGuard>,
        connect: bool,
        body_end: Option<BodyEnd>,
        hsts: Option<HeaderValue>,
    }
}

impl Future for TrackedCall {
    type Output = Result<Response<TrackedBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.call.poll(cx))?;
        early_response::close_if_early(&mut response, this.body_end.as_ref());
        if let Some(hsts) = this.hsts.take() {
            // The edge's policy: it replaces a backend's own.
            response
                .headers_mut()
                .insert(http::header::STRICT_TRANSPORT_SECURITY, hsts);
        }
        let in_flight = this.in_flight.take();
        let status = response.status();
        let tunnel =
            status == StatusCode::SWITCHING_PROTOCOLS || (*this.connect && status.is_success());
        if tunnel && let Some(guard) = &in_flight {
            guard.activity().mark_tunnel();
        }
        Poll::Ready(Ok(response.map(|inner| HoldingBody::new(inner, in_flight))))
    }
}

/// A response body that keeps its request counted in flight on the
/// connection until hyper drops it, handed to hyper as it is: no box
/// around the gateway's body (one allocation and one more dynamic call
/// per frame, callgrind).
pub type TrackedBody = HoldingBody<Option<RequestGuard>>;
