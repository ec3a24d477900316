//! The response body idle timeout: the longest silence allowed between
//! two frames of an upstream response body (nginx's `proxy_read_timeout`,
//! Envoy's stream idle timeout).
//!
//! Once the head is forwarded, a stalled backend would otherwise hold the
//! client and the upstream connection for as long as it likes. When the
//! silence passes the limit the body yields a [`BodyIdleTimeout`] error:
//! hyper then aborts the client side (an HTTP/1 connection is closed, the
//! head being sent; an HTTP/2 stream is reset), and dropping the upstream
//! body drops its connection. The stall is logged with the backend, the
//! endpoint and how much had arrived.
//!
//! The timer is not reset per frame: each frame only records when it
//! came, and the timer, when it fires, is moved to the last frame's time
//! plus the limit if that is still ahead. It is only created the first
//! time the body has to wait.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use std::sync::Arc;

use bytes::Bytes;
use http::Uri;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::body::BoxError;
use crate::config::model::BackendSpec;

/// The backend went silent mid-body.
#[derive(Debug, thiserror::Error)]
#[error("backend {backend:?} sent no response data for {idle:?} (after {received} body bytes)")]
pub struct BodyIdleTimeout {
    pub backend: String,
    pub idle: Duration,
    pub received: u64,
}

/// Who is being waited for, for the log line (cheap clones only: this is
/// built for every response).
#[derive(Debug, Clone)]
pub struct Stall {
    pub backend: Arc<BackendSpec>,
    pub endpoint: Uri,
}

pin_project_lite::pin_project! {
    /// `inner` under the idle timeout.
    pub struct IdleTimeoutBody<B> {
        #[pin]
        inner: B,
        // Created on the first wait: a body that is ready at once (most
        // small responses) never touches the timer.
        sleep: Option<Pin<Box<Sleep>>>,
        idle: Duration,
        last_frame: Instant,
        received: u64,
        stall: Stall,
        expired: bool,
    }
}

impl<B> IdleTimeoutBody<B> {
    pub fn new(inner: B, idle: Duration, stall: Stall) -> Self {
        let now = Instant::now();
        Self {
            inner,
            sleep: None,
            idle,
            last_frame: now,
            received: 0,
            stall,
            expired: false,
        }
    }
}

impl<B> Body for IdleTimeoutBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if *this.expired {
            return Poll::Ready(None);
        }
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                *this.last_frame = Instant::now();
                if let Some(data) = frame.data_ref() {
                    *this.received += data.len() as u64;
                }
                return Poll::Ready(Some(Ok(frame)));
            }
            Poll::Ready(other) => return Poll::Ready(other.map(|r| r.map_err(Into::into))),
            Poll::Pending => {}
        }
        let deadline = *this.last_frame + *this.idle;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        loop {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let deadline = *this.last_frame + *this.idle;
            if deadline > Instant::now() {
                sleep.as_mut().reset(deadline);
                continue;
            }
            *this.expired = true;
            let error = BodyIdleTimeout {
                backend: this.stall.backend.name.clone(),
                idle: *this.idle,
                received: *this.received,
            };
            tracing::warn!(backend = %this.stall.backend.name, endpoint = %this.stall.endpoint, idle = ?this.idle, received_bytes = *this.received, "upstream response body stalled; aborting the response and dropping the upstream connection");
            return Poll::Ready(Some(Err(error.into())));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.expired || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use http_body_util::{BodyExt, StreamBody};

    fn stall() -> Stall {
        let spec = crate::config::load_str(
            "backends:\n  orders: { url: \"http://127.0.0.1:1\" }\n",
            "routes.yaml",
        )
        .expect("a valid config")
        .backends["orders"]
            .clone();
        Stall {
            backend: spec,
            endpoint: Uri::from_static("http://127.0.0.1:1"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_goes_silent_fails_after_the_idle_timeout() {
        let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(4);
        let stream = tokio_stream::wrappers::ReceiverStream::new(receiver);
        let mut body =
            IdleTimeoutBody::new(StreamBody::new(stream), Duration::from_secs(5), stall());
        sender
            .send(Ok(Frame::data(Bytes::from_static(b"0123456789"))))
            .await
            .unwrap();
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap().len(), 10);
        // Frames keep it alive past the limit in total.
        for _ in 0..3 {
            tokio::time::advance(Duration::from_secs(4)).await;
            sender
                .send(Ok(Frame::data(Bytes::from_static(b"x"))))
                .await
                .unwrap();
            assert!(body.frame().await.unwrap().is_ok());
        }
        let started = Instant::now();
        let error = body.frame().await.unwrap().unwrap_err();
        assert_eq!(Instant::now() - started, Duration::from_secs(5));
        let stalled = error.downcast_ref::<BodyIdleTimeout>().unwrap();
        assert_eq!(stalled.received, 13);
        assert!(body.frame().await.is_none());
        drop(sender);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_ends_in_time_is_untouched() {
        let chunks =
            futures::stream::iter([Ok::<_, BoxError>(Frame::data(Bytes::from_static(b"ab")))]);
        let body = IdleTimeoutBody::new(
            StreamBody::new(chunks.boxed()),
            Duration::from_secs(1),
            stall(),
        );
        let collected = body.collect().await.unwrap().to_bytes();
        assert_eq!(&collected[..], b"ab");
    }
}
