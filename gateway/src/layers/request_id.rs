//! `x-request-id`: kept from the client when sane, minted otherwise, sent
//! upstream by the handlers and returned to the client.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{HeaderValue, Request, Response};
use tower::{Layer, Service};

use crate::context::{EdgeContext, RequestId, X_REQUEST_ID};

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
    S: Service<Request<B>, Response = Response<RB>>,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = WithRequestId<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let kept = request
            .headers()
            .get(&X_REQUEST_ID)
            .and_then(|value| Some((value, value.to_str().ok()?)))
            .filter(|(_, id)| is_acceptable(id));
        let (header, id) = match kept {
            Some((value, id)) => (value.clone(), Arc::<str>::from(id)),
            None => {
                // Written into a buffer on the stack, not through
                // `Display` into a `String`.
                let mut buffer = uuid::Uuid::encode_buffer();
                let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
                let header = HeaderValue::from_str(id)
                    .unwrap_or_else(|_| HeaderValue::from_static("invalid"));
                (header, Arc::<str>::from(&*id))
            }
        };
        request.headers_mut().insert(X_REQUEST_ID, header.clone());
        EdgeContext::of_mut(&mut request).request_id = Some(RequestId(id));
        WithRequestId {
            inner: self.inner.call(request),
            header: Some(header),
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's future; its response gets the request id
    /// (a future of its own rather than a boxed closure: no allocation
    /// per request).
    pub struct WithRequestId<F> {
        #[pin]
        inner: F,
        header: Option<HeaderValue>,
    }
}

impl<F, RB, E> Future for WithRequestId<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut result = ready!(this.inner.poll(cx));
        if let (Ok(response), Some(header)) = (&mut result, this.header.take()) {
            response.headers_mut().insert(X_REQUEST_ID, header);
        }
        Poll::Ready(result)
    }
}

fn is_acceptable(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}
