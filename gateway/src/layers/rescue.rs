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
use std::task::{Context, Poll};

use futures::future::{BoxFuture, Either, FutureExt};
use http::{Request, Response};
use tower::{Layer, Service};

use crate::body::GatewayBody;
use crate::context::{ClientIp, RequestId};
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
    S: Service<Request<B>, Response = Response<GatewayBody>, Error = GatewayError> + Send,
    S::Future: Send + 'static,
{
    type Response = Response<GatewayBody>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<GatewayBody>, Infallible>>;

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
        let request_id = request.extensions().get::<RequestId>().cloned();
        let client = request.extensions().get::<ClientIp>().map(|c| c.ip);
        let method = request.method().clone();
        let uri = request.uri().clone();
        // One box for the whole future: the inner one is not boxed again.
        let outcome = match self.not_ready.take() {
            Some(error) => Either::Left(futures::future::ready(Err(error))),
            None => Either::Right(self.inner.call(request)),
        };
        outcome
            .map(move |result| {
                Ok(result.unwrap_or_else(|error| {
                    let path = uri.path();
                    let request_id = request_id.as_ref().map(RequestId::as_str).unwrap_or("");
                    let detail = error.detail();
                    let client = client.map(|ip| ip.to_string()).unwrap_or_default();
                    if error.status.is_server_error() {
                        tracing::warn!(%method, %path, request_id, client, error = %error, detail, "request failed");
                    } else {
                        tracing::debug!(%method, %path, request_id, client, error = %error, detail, "request refused");
                    }
                    error.into_response(request_id)
                }))
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests;
