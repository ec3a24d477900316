//! Turns every `GatewayError` into a response: the single edge where
//! errors meet the wire. Server errors are logged here, once, with the
//! request id, the client address and the error's full cause chain (which
//! the client never sees).
//!
//! Readiness passes through: the rescue service is ready when its inner
//! service is (a concurrency limit below it holds requests back). An inner
//! readiness *error* cannot surface as an error (nothing above fails), so
//! it is kept and becomes the response to the request the caller then
//! sends, without calling the inner service.

use std::convert::Infallible;
use std::future::{Future, Ready};
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures::future::Either;
use http::{Method, Request, Response, Uri};
use tower::{Layer, Service};

use crate::body::GatewayBody;
use crate::context::{EdgeContext, RequestId};
use crate::edge_error::GatewayError;

#[derive(Debug, Clone, Copy, Default)]
pub struct RescueLayer;

impl<S> Layer<S> for RescueLayer {
    type Service = RescueService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RescueService {
            inner,
            not_ready: None,
        }
    }
}

#[derive(Debug)]
pub struct RescueService<S> {
    inner: S,
    /// The inner service's readiness error, answered on the next call.
    not_ready: Option<GatewayError>,
}

impl<S: Clone> Clone for RescueService<S> {
    /// A clone has not been polled ready: it starts with no error.
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            not_ready: None,
        }
    }
}

impl<S, B> Service<Request<B>> for RescueService<S>
where
    S: Service<Request<B>, Response = Response<GatewayBody>, Error = GatewayError>,
{
    type Response = Response<GatewayBody>;
    type Error = Infallible;
    type Future = Rescued<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        if self.not_ready.is_some() {
            return Poll::Ready(Ok(()));
        }
        match self.inner.poll_ready(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(error)) => {
                self.not_ready = Some(error);
                Poll::Ready(Ok(()))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // Cheap clones (reference counts): only a failure reads them.
        let edge = EdgeContext::of(&request);
        let context = FailureContext {
            request_id: edge.and_then(|edge| edge.request_id.clone()),
            client: edge.map(|edge| edge.client.ip),
            method: request.method().clone(),
            uri: request.uri().clone(),
        };
        let outcome = match self.not_ready.take() {
            Some(error) => Either::Left(std::future::ready(Err(error))),
            None => Either::Right(self.inner.call(request)),
        };
        Rescued {
            outcome,
            context: Some(context),
        }
    }
}

/// What the log line of a failed request names.
struct FailureContext {
    request_id: Option<RequestId>,
    client: Option<IpAddr>,
    method: Method,
    uri: Uri,
}

impl FailureContext {
    /// Logs `error` (server errors as warnings) and renders it.
    fn rescue(self, error: GatewayError) -> Response<GatewayBody> {
        let path = self.uri.path();
        let method = &self.method;
        let request_id = self
            .request_id
            .as_ref()
            .map(RequestId::as_str)
            .unwrap_or("");
        let detail = error.detail();
        let client = self.client.map(|ip| ip.to_string()).unwrap_or_default();
        if error.status.is_server_error() {
            tracing::warn!(%method, %path, request_id, client, error = %error, detail, "request failed");
        } else {
            tracing::debug!(%method, %path, request_id, client, error = %error, detail, "request refused");
        }
        error.into_response(request_id)
    }
}

pin_project_lite::pin_project! {
    /// The inner service's answer, its error rendered. A future of its own
    /// rather than a boxed one: the gateway's service is boxed once
    /// around the whole edge stack, and a second box here was one more
    /// allocation and one more copy of the inner future per request
    /// (callgrind).
    pub struct Rescued<F> {
        #[pin]
        outcome: Either<Ready<Result<Response<GatewayBody>, GatewayError>>, F>,
        context: Option<FailureContext>,
    }
}

impl<F> Future for Rescued<F>
where
    F: Future<Output = Result<Response<GatewayBody>, GatewayError>>,
{
    type Output = Result<Response<GatewayBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.outcome.poll(cx));
        Poll::Ready(Ok(result.unwrap_or_else(|error| {
            match this.context.take() {
                Some(context) => context.rescue(error),
                None => error.into_response(""),
            }
        })))
    }
}

#[cfg(test)]
mod tests;
