//! [`ObserveLayer`]: opens each request's [`Exchange`] and finishes it
//! when the response body ends, fails, or is dropped (the client went
//! away). A request dropped before its response head is finished as 499
//! (nginx's "client closed request"), aborted.
//!
//! With traces on, it also opens the request's server span, enters it
//! while the inner service runs (so upstream attempts are its children),
//! and keeps it open until the response body ends: a stream's span lasts
//! as long as the stream.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures::future::Either;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use tower::{Layer, Service};
use tracing::Span;

use super::exchange::{ErrorCode, Exchange, ExchangeEnd};
use super::metrics::{OpenStream, StreamKind};
use super::observers::{Finished, Observers};
use super::otel::sampling::{self, Decision};
use super::otel::{self, spans};
use crate::body::{self, BoxError, GatewayBody};
use crate::context::EdgeContext;

/// The status recorded for a request whose client left before the
/// response head.
const CLIENT_CLOSED_REQUEST: u16 = 499;

#[derive(Debug, Clone)]
pub struct ObserveLayer {
    observers: Arc<Observers>,
}

impl ObserveLayer {
    pub fn new(observers: Arc<Observers>) -> Self {
        Self { observers }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = ObserveService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ObserveService {
            inner,
            observers: Arc::clone(&self.observers),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ObserveService<S> {
    inner: S,
    observers: Arc<Observers>,
}

impl<S> Service<Request<GatewayBody>> for ObserveService<S>
where
    S: Service<Request<GatewayBody>, Response = Response<GatewayBody>>,
{
    type Response = Response<GatewayBody>;
    type Error = S::Error;
    type Future = Either<S::Future, ObservedFuture<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<GatewayBody>) -> Self::Future {
        let decision = otel::enabled().then(|| sampling::decide(request.headers()));
        let (sampled, unsampled) = match decision {
            Some(Decision::Sampled) => (true, None),
            Some(Decision::Unsampled(trace)) => (false, Some(trace)),
            None => (false, None),
        };
        // Nothing records this request: no exchange, no span, no wrapped
        // bodies (an unsampled request with only traces on costs the
        // decision and its `traceparent`).
        if self.observers.is_empty() && !sampled {
            if unsampled.is_some() {
                // The upstream-request builder reads it from here.
                EdgeContext::of_mut(&mut request).unsampled_trace = unsampled;
            }
            return Either::Left(self.inner.call(request));
        }
        let exchange = Arc::new(Exchange::begin(&request, Arc::clone(&self.observers)));
        if let Some(trace) = &unsampled {
            exchange.set_trace_id(trace.trace_id());
        }
        let span = if sampled {
            let span = spans::server(&request, &exchange.client);
            if let Some(trace_id) = spans::trace_id(&span) {
                exchange.set_trace_id(trace_id);
            }
            span
        } else {
            Span::none()
        };
        self.observers.start(&exchange);
        let edge = EdgeContext::of_mut(&mut request);
        edge.exchange = Some(Arc::clone(&exchange));
        edge.unsampled_trace = unsampled;
        // A body known to be empty (a GET's) has no bytes to count, and
        // keeps its own type: no extra box on the most common request;
        // nor is one counted that no sink reads.
        let request = if request.body().is_end_stream() || !self.observers.wants_details() {
            request
        } else {
            let counted = Arc::clone(&exchange);
            request.map(|inner| {
                body::boxed_as_is(CountedBody {
                    inner,
                    exchange: counted,
                })
            })
        };
        let inner = span.in_scope(|| self.inner.call(request));
        Either::Right(ObservedFuture {
            inner: Some(inner),
            exchange: Some(exchange),
            span,
        })
    }
}

pin_project_lite::pin_project! {
    /// The inner service's future; wraps the response body when it comes.
    pub struct ObservedFuture<F> {
        // `None` only once dropped: the request's work is dropped first,
        // so that the upstream attempts it abandons are in the record.
        #[pin]
        inner: Option<F>,
        exchange: Option<Arc<Exchange>>,
        span: Span,
    }

    impl<F> PinnedDrop for ObservedFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if let Some(exchange) = this.exchange.take() {
                this.inner.set(None);
                let status = StatusCode::from_u16(CLIENT_CLOSED_REQUEST)
                    .unwrap_or(StatusCode::BAD_REQUEST);
                spans::server_aborted(this.span, Some(status));
                finish(&exchange, status, None, 0, ExchangeEnd::Aborted);
            }
        }
    }
}

impl<F, E> Future for ObservedFuture<F>
where
    F: Future<Output = Result<Response<GatewayBody>, E>>,
{
    type Output = Result<Response<GatewayBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            return Poll::Pending;
        };
        let result = {
            let _entered = this.span.enter();
            ready!(inner.poll(cx))
        };
        let Some(exchange) = this.exchange.take() else {
            return Poll::Ready(result);
        };
        let span = std::mem::replace(this.span, Span::none());
        Poll::Ready(result.map(|response| {
            let status = response.status();
            let error_code = response.extensions().get::<ErrorCode>().map(|code| code.0);
            // A body whose length is known is not a long-lived stream: the
            // content type is only read for the others.
            let open_stream = exchange
                .observers
                .metrics()
                .filter(|_| response.body().size_hint().exact().is_none())
                .and_then(|metrics| {
                    StreamKind::of_response(&response).map(|kind| metrics.open_stream(kind))
                });
            spans::server_response(&span, &exchange, status, error_code);
            response.map(|inner| {
                body::boxed_as_is(ObservedBody {
                    inner,
                    exchange: Some(exchange),
                    status,
                    error_code,
                    bytes_out: 0,
                    _open_stream: open_stream,
                    span,
                })
            })
        }))
    }
}

fn finish(
    exchange: &Exchange,
    status: StatusCode,
    error_code: Option<&'static str>,
    bytes_out: u64,
    end: ExchangeEnd,
) {
    let finished = Finished {
        status,
        error_code,
        bytes_out,
        end,
        duration: exchange.started.elapsed(),
    };
    exchange.observers.finish(exchange, &finished);
}

pin_project_lite::pin_project! {
    /// The response body, counted; finishes the exchange at its end.
    struct ObservedBody {
        #[pin]
        inner: GatewayBody,
        exchange: Option<Arc<Exchange>>,
        status: StatusCode,
        error_code: Option<&'static str>,
        bytes_out: u64,
        // Counts an SSE or NDJSON response as an open stream until the
        // body is dropped.
        _open_stream: Option<OpenStream>,
        // The server span, closed with the body.
        span: Span,
    }

    impl PinnedDrop for ObservedBody {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(exchange) = this.exchange.take() {
                // hyper may drop a body it knows is empty without polling it.
                let end = if this.inner.is_end_stream() {
                    ExchangeEnd::Completed
                } else {
                    spans::server_aborted(this.span, None);
                    ExchangeEnd::Aborted
                };
                finish(&exchange, *this.status, *this.error_code, *this.bytes_out, end);
            }
        }
    }
}

impl Body for ObservedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        let end = match &frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    *this.bytes_out += data.len() as u64;
                }
                None
            }
            Some(Err(_)) => Some(ExchangeEnd::Aborted),
            None => Some(ExchangeEnd::Completed),
        };
        if let Some(end) = end
            && let Some(exchange) = this.exchange.take()
        {
            if end == ExchangeEnd::Aborted {
                spans::server_aborted(this.span, None);
            }
            // The span ends with the body.
            *this.span = Span::none();
            finish(
                &exchange,
                *this.status,
                *this.error_code,
                *this.bytes_out,
                end,
            );
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

pin_project_lite::pin_project! {
    /// The request body, counted as it is read.
    struct CountedBody {
        #[pin]
        inner: GatewayBody,
        exchange: Arc<Exchange>,
    }
}

impl Body for CountedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
        {
            this.exchange.add_bytes_in(data.len() as u64);
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
