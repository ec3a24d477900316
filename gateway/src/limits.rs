//! Request body limits, enforced while the body streams.
//!
//! A declared `Content-Length` over the limit is refused before any
//! upstream call. A body without one is counted as it flows; the moment it
//! passes the limit, the stream fails with [`BodyTooLarge`], which aborts
//! the upstream call, and the handler turns that into 413.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body::{Body, Frame, SizeHint};

use crate::body::{BoxError, GatewayBody};
use crate::edge_error::GatewayError;

/// The body passed the route's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("request body exceeds the limit of {limit} bytes")]
pub struct BodyTooLarge {
    pub limit: u64,
}

impl From<BodyTooLarge> for GatewayError {
    fn from(error: BodyTooLarge) -> Self {
        GatewayError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BODY_TOO_LARGE",
            error.to_string(),
        )
    }
}

/// Checks the declared length, then wraps the body in a counting limit.
pub fn limit_body(
    headers: &HeaderMap,
    body: GatewayBody,
    limit: Option<u64>,
) -> Result<GatewayBody, BodyTooLarge> {
    let Some(limit) = limit else { return Ok(body) };
    // A body known to be empty (a GET's) cannot pass the limit: it keeps
    // its own type, with no wrapper to allocate and poll through.
    if body.is_end_stream() {
        return Ok(body);
    }
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(BodyTooLarge { limit });
    }
    Ok(GatewayBody::new(LimitedBody {
        inner: body,
        remaining: limit,
        limit,
    }))
}

struct LimitedBody {
    inner: GatewayBody,
    remaining: u64,
    limit: u64,
}

impl Body for LimitedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other,
        };
        if let Some(data) = frame.data_ref() {
            let len = data.len() as u64;
            if len > self.remaining {
                return Poll::Ready(Some(Err(Box::new(BodyTooLarge { limit: self.limit }))));
            }
            self.remaining -= len;
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn declared_length_over_the_limit_is_refused_up_front() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_LENGTH, "11".parse().unwrap());
        assert!(limit_body(&headers, body::full("hello world"), Some(10)).is_err());
        assert!(limit_body(&headers, body::full("hello world"), None).is_ok());
    }

    #[tokio::test]
    async fn streamed_bodies_fail_when_they_pass_the_limit() {
        let ok = limit_body(&HeaderMap::new(), body::full("0123456789"), Some(10)).unwrap();
        assert_eq!(ok.collect().await.unwrap().to_bytes().len(), 10);
        let too_big = limit_body(&HeaderMap::new(), body::full("0123456789A"), Some(10)).unwrap();
        let error = too_big.collect().await.unwrap_err();
        assert!(error.downcast_ref::<BodyTooLarge>().is_some());
    }
}
