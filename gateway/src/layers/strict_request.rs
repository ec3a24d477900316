//! The edge checks every request passes before routing: its shape
//! ([`crate::request_shape`]: framing, host, target length, header count)
//! and the `server.headers_with_underscores` policy.
//!
//! A refused HTTP/1.x request is answered with `Connection: close`: its
//! body was not read and its framing may not be trusted, so the
//! connection must not carry another request.

use std::future::Ready;
use std::sync::Arc;
use std::task::{Context, Poll};

use arc_swap::ArcSwap;
use futures::future::Either;
use http::header::{CONNECTION, HeaderValue};
use http::{Request, Response, Version};
use tower::{Layer, Service};

use crate::body::GatewayBody;
use crate::edge_error::GatewayError;
use crate::request_shape::{self, Head, ShapeError};
use crate::snapshot::Snapshot;

#[derive(Clone)]
pub struct StrictRequestLayer {
    current: Arc<ArcSwap<Snapshot>>,
}

impl StrictRequestLayer {
    pub fn new(current: Arc<ArcSwap<Snapshot>>) -> Self {
        Self { current }
    }
}

impl<S> Layer<S> for StrictRequestLayer {
    type Service = StrictRequestService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        StrictRequestService {
            inner,
            current: Arc::clone(&self.current),
        }
    }
}

#[derive(Clone)]
pub struct StrictRequestService<S> {
    inner: S,
    current: Arc<ArcSwap<Snapshot>>,
}

impl<S> Service<Request<GatewayBody>> for StrictRequestService<S>
where
    S: Service<Request<GatewayBody>, Response = Response<GatewayBody>, Error = GatewayError>,
    S::Future: Send + 'static,
{
    type Response = Response<GatewayBody>;
    type Error = GatewayError;
    /// The inner service's future, or the refusal: not boxed (the
    /// gateway's service is boxed once around the whole edge stack).
    type Future = Either<S::Future, Ready<Result<Response<GatewayBody>, GatewayError>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), GatewayError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<GatewayBody>) -> Self::Future {
        match self.admit(&mut request) {
            Ok(()) => Either::Left(self.inner.call(request)),
            Err(error) => {
                let error = refusal(error, request.version());
                Either::Right(std::future::ready(Err(error)))
            }
        }
    }
}

impl<S> StrictRequestService<S> {
    /// Checks the head, applies the underscore policy.
    fn admit(&self, request: &mut Request<GatewayBody>) -> Result<(), ShapeError> {
        let snapshot = self.current.load();
        let server = &snapshot.config.server;
        let head = Head {
            version: request.version(),
            uri: request.uri(),
            headers: request.headers(),
        };
        request_shape::check(&head, &server.request_limits)?;
        request_shape::underscore_headers(request.headers_mut(), server.headers_with_underscores)
    }
}

/// The refusal, closing an HTTP/1.x connection.
fn refusal(error: ShapeError, version: Version) -> GatewayError {
    let error = GatewayError::from(error);
    if version < Version::HTTP_2 {
        error.with_header(CONNECTION, HeaderValue::from_static("close"))
    } else {
        error
    }
}
