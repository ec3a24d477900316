//! `x-request-id`: kept from the client when sane, minted otherwise, sent
//! upstream by the handlers and returned to the client.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::{BoxFuture, FutureExt};
use http::{HeaderValue, Request, Response};
use tower::{Layer, Service};

use crate::context::{RequestId, X_REQUEST_ID};

/// Longest client-supplied id that is kept.
const MAX_ID_LEN: usize = 128;

#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService { inner }
    }
}

#[derive(Debug, Clone)]
pub struct RequestIdService<S> {
    inner: S,
}

impl<S, B, RB> Service<Request<B>> for RequestIdService<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Send,
    S::Future: Send + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<RB>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let id = request
            .headers()
            .get(&X_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| is_acceptable(v))
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let header =
            HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
        request.headers_mut().insert(X_REQUEST_ID, header.clone());
        request.extensions_mut().insert(RequestId(Arc::from(id)));
        self.inner
            .call(request)
            .map(move |result| {
                result.map(|mut response| {
                    response.headers_mut().insert(X_REQUEST_ID, header);
                    response
                })
            })
            .boxed()
    }
}

fn is_acceptable(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}
