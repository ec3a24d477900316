//! A request body made ready for retries: empty; buffered whole before
//! the first attempt (its `Content-Length` is at most the policy's
//! `max_buffered_body`); copied while it streams to the first attempt
//! (no length: a gRPC or chunked body), replayable only if it ended
//! within the cap; or streamed once (larger, or retries off). A streamed
//! body past the cap is never retried, and nothing waits for a streaming
//! body to end before sending it.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
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
    /// Streamed to the first attempt while a copy is kept up to the cap.
    Copied {
        body: Option<GatewayBody>,
        copy: Arc<Mutex<Copy>>,
    },
}

/// What a [`ReplayBody::Copied`] body's first attempt has read so far.
/// The lock is the request's own, never shared between requests.
#[derive(Debug, Default)]
pub struct Copy {
    data: BytesMut,
    ended: bool,
    /// Past the cap, or trailers: not replayable.
    spoiled: bool,
}

impl ReplayBody {
    /// Reads `body` into a replayable form when it is at most `cap` bytes
    /// and `retries` are possible. A client body error while reading is
    /// the client's fault.
    pub async fn prepare(
        body: GatewayBody,
        retries: bool,
        cap: u64,
    ) -> Result<Self, RequestBodyFault> {
        let hint = body.size_hint();
        if hint.exact() == Some(0) || body.is_end_stream() {
            return Ok(ReplayBody::Empty);
        }
        if !retries || hint.lower() > cap {
            return Ok(ReplayBody::Once(Some(body)));
        }
        if hint.exact().is_some() {
            return buffer_up_to(body, cap).await;
        }
        Ok(ReplayBody::Copied {
            body: Some(body),
            copy: Arc::new(Mutex::new(Copy::default())),
        })
    }

    /// Whether another attempt can send the same body (after the first
    /// attempt, for a copied body).
    pub fn is_replayable(&self) -> bool {
        match self {
            ReplayBody::Empty | ReplayBody::Buffered(_) => true,
            ReplayBody::Once(_) => false,
            ReplayBody::Copied { copy, .. } => {
                let copy = copy.lock().unwrap_or_else(PoisonError::into_inner);
                copy.ended && !copy.spoiled
            }
        }
    }

    /// The body for the next attempt.
    pub fn next(&mut self, cap: u64) -> GatewayBody {
        match self {
            ReplayBody::Empty => body::empty(),
            ReplayBody::Buffered(bytes) => body::full(bytes.clone()),
            ReplayBody::Once(body) => body.take().unwrap_or_else(body::empty),
            ReplayBody::Copied { body, copy } => match body.take() {
                Some(inner) => body::boxed(Copying {
                    inner,
                    copy: Arc::clone(copy),
                    cap,
                }),
                None => {
                    let copy = copy.lock().unwrap_or_else(PoisonError::into_inner);
                    body::full(copy.data.clone().freeze())
                }
            },
        }
    }

    /// Wraps the body sent once (to watch for the client's faults).
    pub fn map_streamed(&mut self, wrap: impl FnOnce(GatewayBody) -> GatewayBody) {
        if let ReplayBody::Once(Some(streamed))
        | ReplayBody::Copied {
            body: Some(streamed),
            ..
        } = self
        {
            *streamed = wrap(std::mem::replace(streamed, body::empty()));
        }
    }
}

/// The first attempt's body, copied into `copy` up to `cap` bytes.
struct Copying {
    inner: GatewayBody,
    copy: Arc<Mutex<Copy>>,
    cap: u64,
}

impl Body for Copying {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let mut copy = self.copy.lock().unwrap_or_else(PoisonError::into_inner);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => match frame.data_ref() {
                Some(data) if !copy.spoiled => {
                    copy.spoiled = (copy.data.len() + data.len()) as u64 > self.cap;
                    if !copy.spoiled {
                        copy.data.extend_from_slice(data);
                    }
                }
                Some(_) => {}
                None => copy.spoiled = true,
            },
            Poll::Ready(Some(Err(_))) => copy.spoiled = true,
            Poll::Ready(None) => copy.ended = true,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
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

    fn streamed(chunks: &'static [&'static str]) -> GatewayBody {
        let chunks = futures::stream::iter(
            chunks
                .iter()
                .map(|s| Ok::<_, BoxError>(Frame::data(Bytes::from(*s)))),
        );
        body::boxed(http_body_util::StreamBody::new(chunks))
    }

    #[tokio::test]
    async fn a_small_body_is_buffered_and_replayed() {
        let mut replay = ReplayBody::prepare(body::full("hello"), true, 16)
            .await
            .unwrap();
        assert!(replay.is_replayable());
        assert_eq!(collect(replay.next(16)).await, "hello");
        assert_eq!(collect(replay.next(16)).await, "hello");
    }

    #[tokio::test]
    async fn a_streamed_body_past_the_cap_is_sent_once_whole() {
        let mut replay = ReplayBody::prepare(streamed(&["abc", "def", "ghi"]), true, 4)
            .await
            .unwrap();
        assert_eq!(collect(replay.next(4)).await, "abcdefghi");
        assert!(!replay.is_replayable());
    }

    #[tokio::test]
    async fn a_streamed_body_within_the_cap_is_copied_while_sent_then_replayed() {
        let mut replay = ReplayBody::prepare(streamed(&["abc", "def"]), true, 16)
            .await
            .unwrap();
        assert!(
            !replay.is_replayable(),
            "not before the first attempt read it"
        );
        assert_eq!(collect(replay.next(16)).await, "abcdef");
        assert!(replay.is_replayable());
        assert_eq!(collect(replay.next(16)).await, "abcdef");
    }

    #[tokio::test]
    async fn retries_off_or_a_known_large_body_is_not_read() {
        let replay = ReplayBody::prepare(body::full("hello"), false, 16)
            .await
            .unwrap();
        assert!(!replay.is_replayable());
        let replay = ReplayBody::prepare(body::full("hello"), true, 2)
            .await
            .unwrap();
        assert!(!replay.is_replayable());
        let replay = ReplayBody::prepare(body::empty(), true, 0).await.unwrap();
        assert!(replay.is_replayable());
    }
}
