//! Early responses on HTTP/1: a response sent before the client's request
//! body was read to its end (a 413 while the body still flows, a refusal
//! before the body was looked at). hyper then closes the connection
//! rather than read an unknown rest, but it decides that after the
//! response head is out, so the head does not say so; a client that
//! pools connections puts the connection back and its next request on it
//! fails ("connection closed before message completed"). The gateway says
//! `Connection: close` on such a response, as nginx does, so clients
//! never reuse a connection the gateway is about to close. The unread
//! rest is then discarded while the connection lingers
//! ([`super::lingering_close`]).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::header::{CONNECTION, HeaderValue};
use http::{Response, StatusCode};
use http_body::{Body, Frame, SizeHint};

/// Whether the request body has been read to its end; one per request
/// that has a body (a request without one has nothing left unread).
#[derive(Debug, Clone, Default)]
pub struct BodyEnd(Arc<AtomicBool>);

impl BodyEnd {
    fn reached(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn mark(&self) {
        self.0.store(true, Ordering::Release);
    }
}

pin_project_lite::pin_project! {
    /// The client's body, marking [`BodyEnd`] at its end.
    pub struct WatchedBody<B> {
        #[pin]
        inner: B,
        end: BodyEnd,
    }
}

impl<B> WatchedBody<B> {
    pub fn new(inner: B, end: BodyEnd) -> Self {
        Self { inner, end }
    }
}

impl<B: Body<Data = Bytes>> Body for WatchedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        if frame.is_none() || this.inner.is_end_stream() {
            this.end.mark();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Adds `Connection: close` to an HTTP/1 `response` sent before the
/// request body's end (never to a protocol switch, which keeps the
/// connection by definition).
pub fn close_if_early<B>(response: &mut Response<B>, end: Option<&BodyEnd>) {
    let Some(end) = end else {
        return;
    };
    if end.reached() || response.status() == StatusCode::SWITCHING_PROTOCOLS {
        return;
    }
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};

    #[tokio::test]
    async fn a_response_before_the_bodys_end_closes_and_after_it_keeps_the_connection() {
        let end = BodyEnd::default();
        let mut body = WatchedBody::new(Full::new(Bytes::from_static(b"abc")), end.clone());
        let mut early = Response::new(());
        close_if_early(&mut early, Some(&end));
        assert_eq!(early.headers()[CONNECTION], "close");
        let _ = body.frame().await;
        let mut late = Response::new(());
        close_if_early(&mut late, Some(&end));
        assert!(late.headers().get(CONNECTION).is_none());
    }

    #[test]
    fn no_body_or_a_protocol_switch_keeps_the_connection() {
        let mut plain = Response::new(());
        close_if_early(&mut plain, None);
        assert!(plain.headers().get(CONNECTION).is_none());
        let mut switch = Response::new(());
        *switch.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        close_if_early(&mut switch, Some(&BodyEnd::default()));
        assert!(switch.headers().get(CONNECTION).is_none());
    }
}
