//! A request body made ready for retries: empty, buffered whole (at most
//! the policy's `max_buffered_body`, so it can be sent again), or
//! streamed once (larger, or retries off). Buffering reads the client's
//! body only up to the cap: a body still going past it is streamed on,
//! its first bytes first, and never retried.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

use crate::body::{self, BoxError, GatewayBody};
use crate::client_body::RequestBodyFault;

/// The body of every attempt of one request.
pub enum ReplayBody {
    /// No body: every attempt sends none.
    Empty,
    /// Buffered: every attempt sends a copy (a reference count).
    Buffered(Bytes),
    /// Sent once; taken by the first attempt.
    Once(Option<GatewayBody>),
}

impl ReplayBody {
    /// Reads `body` into a replayable form when it is at most `cap` bytes
    /// and `retries` are possible. A client body error while reading is
    /// the client's fault.
    pub async fn prepare(body: GatewayBody, retries: bool, cap: u64) -> Result<Self, RequestBodyFault> {
        let hint = body.size_hint();
        if hint.exact() == Some(0) || body.is_end_stream() {
            return Ok(ReplayBody::Empty);
        }
        if !retries || hint.lower() > cap {
            return Ok(ReplayBody::Once(Some(body)));
        }
        buffer_up_to(body, cap).await
    }

    /// Whether another attempt can send the same body.
    pub fn is_replayable(&self) -> bool {
        !matches!(self, ReplayBody::Once(_))
    }

    /// The body for the next attempt.
    pub fn next(&mut self) -> GatewayBody {
        match self {
            ReplayBody::Empty => body::empty(),
            ReplayBody::Buffered(bytes) => body::full(bytes.clone()),
            ReplayBody::Once(body) => body.take().unwrap_or_else(body::empty),
        }
    }
}

async fn buffer_up_to(mut body: GatewayBody, cap: u64) -> Result<ReplayBody, RequestBodyFault> {
    let mut buffer = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| fault_of(error.as_ref()))?;
        // Request trailers are rare (gRPC sends none): a body with some is
        // not buffered, so that they still go up.
        let data = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => return Ok(streamed(buffer.freeze(), Some(frame), body)),
        };
        buffer.extend_from_slice(&data);
        if buffer.len() as u64 > cap {
            return Ok(streamed(buffer.freeze(), None, body));
        }
    }
    Ok(ReplayBody::Buffered(buffer.freeze()))
}

fn fault_of(error: &(dyn std::error::Error + 'static)) -> RequestBodyFault {
    RequestBodyFault::find(error).unwrap_or(RequestBodyFault::Malformed)
}

fn streamed(prefix: Bytes, trailers: Option<Frame<Bytes>>, rest: GatewayBody) -> ReplayBody {
    ReplayBody::Once(Some(body::boxed(Prefixed {
        prefix: (!prefix.is_empty()).then_some(prefix),
        trailers,
        rest,
    })))
}

/// Bytes already read, then the rest of the body.
struct Prefixed {
    prefix: Option<Bytes>,
    trailers: Option<Frame<Bytes>>,
    rest: GatewayBody,
}

impl Body for Prefixed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(prefix) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        if let Some(trailers) = self.trailers.take() {
            return Poll::Ready(Some(Ok(trailers)));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.trailers.is_none() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = self.rest.size_hint();
        let extra = self.prefix.as_ref().map_or(0, |p| p.len() as u64);
        hint.set_lower(hint.lower().saturating_add(extra));
        if let Some(upper) = hint.upper() {
            hint.set_upper(upper.saturating_add(extra));
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(body: GatewayBody) -> Bytes {
        body.collect().await.unwrap().to_bytes()
    }

    #[tokio::test]
    async fn a_small_body_is_buffered_and_replayed() {
        let mut replay = ReplayBody::prepare(body::full("hello"), true, 16).await.unwrap();
        assert!(replay.is_replayable());
        assert_eq!(collect(replay.next()).await, "hello");
        assert_eq!(collect(replay.next()).await, "hello");
    }

    #[tokio::test]
    async fn a_body_past_the_cap_is_streamed_once_whole() {
        let chunks = futures::stream::iter(
            ["abc", "def", "ghi"].map(|s| Ok::<_, BoxError>(Frame::data(Bytes::from(s)))),
        );
        let streamed = body::boxed(http_body_util::StreamBody::new(chunks));
        let mut replay = ReplayBody::prepare(streamed, true, 4).await.unwrap();
        assert!(!replay.is_replayable());
        assert_eq!(collect(replay.next()).await, "abcdefghi");
        assert_eq!(collect(replay.next()).await, "");
    }

    #[tokio::test]
    async fn retries_off_or_a_known_large_body_is_not_read() {
        let replay = ReplayBody::prepare(body::full("hello"), false, 16).await.unwrap();
        assert!(!replay.is_replayable());
        let replay = ReplayBody::prepare(body::full("hello"), true, 2).await.unwrap();
        assert!(!replay.is_replayable());
        let replay = ReplayBody::prepare(body::empty(), true, 0).await.unwrap();
        assert!(replay.is_replayable());
    }
}
