//! [`HeldBody`]: an upstream response body that keeps what the request
//! holds (the endpoint's in-flight count, the connection slot, the
//! attempt's client span) until it ends, and records a gRPC status from
//! its trailers on the span.
//!
//! A body of its own rather than `map_frame`, because `MapFrame` cannot
//! forward the size hint (a mapped frame may change size): a proxied
//! response then lost its declared length on the way out, and everything
//! after the pool (the observe layer's stream check, hyper's framing of
//! an HTTP/2 response) saw a body of unknown length.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::OwnedSemaphorePermit;
use tracing::Span;

use super::http1::PooledBody;
use crate::observe::otel::spans;
use crate::upstream::endpoint::InFlightGuard;

pin_project_lite::pin_project! {
    pub(super) struct HeldBody {
        #[pin]
        inner: PooledBody,
        // Released when the body is dropped.
        _in_flight: InFlightGuard,
        _permit: OwnedSemaphorePermit,
        // The attempt's client span, closed with the body.
        span: Span,
    }
}

impl HeldBody {
    pub(super) fn new(
        inner: PooledBody,
        in_flight: InFlightGuard,
        permit: OwnedSemaphorePermit,
        span: Span,
    ) -> Self {
        Self {
            inner,
            _in_flight: in_flight,
            _permit: permit,
            span,
        }
    }
}

impl Body for HeldBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(trailers) = frame.trailers_ref()
        {
            spans::client_grpc_status(this.span, trailers);
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
