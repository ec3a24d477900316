//! Turns every `GatewayError` into a response: the single edge where
//! errors meet the wire. Server errors are logged here, once, with the
//! request id, the client address and the error's full cause chain (which
//! the client never sees).

use std::convert::Infallible;
use std::task::{Context, Poll};

use futures::future::{BoxFuture, FutureExt};
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
        RescueService { inner }
    }
}

#[derive(Debug, Clone)]
pub struct RescueService<S> {
    inner: S,
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
        match self.inner.poll_ready(cx) {
            Poll::Ready(_) => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // Cheap clones (reference counts): only a failure reads them.
        let request_id = request.extensions().get::<RequestId>().cloned();
        let client = request.extensions().get::<ClientIp>().map(|c| c.ip);
        let method = request.method().clone();
        let uri = request.uri().clone();
        self.inner
            .call(request)
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
