//! SSE heartbeats: a comment line (`: keep-alive`) written on an event
//! stream that has been quiet for `server.streams.sse_heartbeat`, so
//! proxies and load balancers between the gateway and the client do not
//! cut a healthy but quiet stream, and a client that went away is noticed
//! at the next write.
//!
//! A heartbeat is only written between events: after a blank line, or
//! before anything was sent. The gateway's own event streams (gRPC server
//! streaming, GraphQL subscriptions) yield whole events per frame; a
//! proxied stream is tracked byte by byte for its event boundaries.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::body::{BoxError, GatewayBody};

const HEARTBEAT: &[u8] = b": keep-alive\n\n";

pin_project_lite::pin_project! {
    /// An SSE body with heartbeats.
    pub struct SseHeartbeat {
        #[pin]
        inner: GatewayBody,
        sleep: Pin<Box<Sleep>>,
        every: Duration,
        last_write: Instant,
        // The bytes so far end an event (or none were sent).
        at_boundary: bool,
        // The last bytes written, to find `\n\n`, `\r\n\r\n` or `\r\r`
        // across frames.
        tail: [u8; 3],
    }
}

impl SseHeartbeat {
    pub fn new(inner: GatewayBody, every: Duration) -> Self {
        let now = Instant::now();
        Self {
            inner,
            sleep: Box::pin(tokio::time::sleep_until(now + every)),
            every,
            last_write: now,
            at_boundary: true,
            tail: [0; 3],
        }
    }
}

/// Whether `tail` followed by `data` ends with a blank line.
fn ends_event(tail: [u8; 3], data: &[u8]) -> ([u8; 3], bool) {
    let mut last = tail.to_vec();
    last.extend_from_slice(&data[data.len().saturating_sub(4)..]);
    let end = &last[last.len().saturating_sub(4)..];
    let boundary = end.ends_with(b"\n\n") || end.ends_with(b"\r\r") || end.ends_with(b"\r\n\r\n");
    let mut next = [0u8; 3];
    let keep = &last[last.len().saturating_sub(3)..];
    next[3 - keep.len()..].copy_from_slice(keep);
    (next, boundary)
}

impl Body for SseHeartbeat {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                *this.last_write = Instant::now();
                if let Some(data) = frame.data_ref()
                    && !data.is_empty()
                {
                    (*this.tail, *this.at_boundary) = ends_event(*this.tail, data);
                }
                return Poll::Ready(Some(Ok(frame)));
            }
            Poll::Ready(other) => return Poll::Ready(other),
            Poll::Pending => {}
        }
        loop {
            if this.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let due = *this.last_write + *this.every;
            let now = Instant::now();
            if due > now || !*this.at_boundary {
                // Not quiet long enough, or mid-event: look again later.
                let next = if due > now { due } else { now + *this.every };
                this.sleep.as_mut().reset(next);
                continue;
            }
            *this.last_write = now;
            this.sleep.as_mut().reset(now + *this.every);
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(HEARTBEAT)))));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    #[test]
    fn event_boundaries_are_found_across_frames() {
        assert!(ends_event([0; 3], b"data: x\n\n").1);
        assert!(!ends_event([0; 3], b"data: x\n").1);
        let (tail, boundary) = ends_event([0; 3], b"data: x\r\n");
        assert!(!boundary);
        assert!(ends_event(tail, b"\r\n").1);
        assert!(ends_event(ends_event([0; 3], b"data: x\r").0, b"\r").1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_stream_gets_a_heartbeat_between_events_only() {
        let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(4);
        let inner = crate::body::boxed(StreamBody::new(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        ));
        let mut body = SseHeartbeat::new(inner, Duration::from_secs(15));
        // Quiet from the start: a heartbeat after 15 s.
        let started = Instant::now();
        let beat = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(
            (&beat[..], Instant::now() - started),
            (HEARTBEAT, Duration::from_secs(15))
        );
        // Mid-event: no heartbeat, however long the wait.
        sender
            .send(Ok(Frame::data(Bytes::from_static(b"data: {\"a\":"))))
            .await
            .unwrap();
        assert!(body.frame().await.is_some());
        let next = tokio::time::timeout(Duration::from_secs(60), body.frame()).await;
        assert!(next.is_err(), "no heartbeat inside an event");
        sender
            .send(Ok(Frame::data(Bytes::from_static(b"1}\n\n"))))
            .await
            .unwrap();
        assert_eq!(
            &body.frame().await.unwrap().unwrap().into_data().unwrap()[..],
            b"1}\n\n"
        );
        let beat = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&beat[..], HEARTBEAT);
        drop(sender);
        assert!(body.frame().await.is_none());
    }
}
