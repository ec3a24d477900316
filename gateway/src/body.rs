//! The one body type that flows through the gateway, both ways.
//!
//! Requests and responses are streamed: a `GatewayBody` is a boxed
//! `http_body::Body` that yields frames as they arrive. Nothing in the
//! proxy path collects a body whole.

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};

/// A boxed, thread-safe error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A streamed HTTP body (request or response).
pub type GatewayBody = UnsyncBoxBody<Bytes, BoxError>;

/// An empty body.
pub fn empty() -> GatewayBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A body holding one chunk.
pub fn full(bytes: impl Into<Bytes>) -> GatewayBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Boxes a body whose error already is a [`BoxError`], without the
/// error-mapping layer [`boxed`] adds (a call per frame and per drop).
pub fn boxed_as_is<B>(body: B) -> GatewayBody
where
    B: http_body::Body<Data = Bytes, Error = BoxError> + Send + 'static,
{
    body.boxed_unsync()
}

/// Boxes any body whose error converts into [`BoxError`].
pub fn boxed<B>(body: B) -> GatewayBody
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(Into::into).boxed_unsync()
}

pin_project_lite::pin_project! {
    /// A body that keeps `held` (a count, a permit, a guard) until it ends
    /// or is dropped, its frames and size hint passed through as they are
    /// (`map_frame` would hide the size hint, and so the declared length).
    pub struct HoldingBody<G> {
        #[pin]
        inner: GatewayBody,
        _held: G,
    }
}

impl<G> HoldingBody<G> {
    pub fn new(inner: GatewayBody, held: G) -> Self {
        Self { inner, _held: held }
    }
}

impl<G> http_body::Body for HoldingBody<G> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
