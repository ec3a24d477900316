//! Lingering close, as nginx's `lingering_close` does: when the gateway
//! closes a connection whose client is still sending (a body refused with
//! 413 while it streams, a request refused before its body was read),
//! closing the socket outright with unread bytes in the kernel's buffer
//! sends a TCP reset, and the reset can destroy the response the client
//! has not read yet: the client sees "connection reset" instead of the
//! 413. So after the write side is shut (the client gets FIN after the
//! response), the socket is read and the bytes discarded until the client
//! closes its side, for at most [`LINGER_TIME`] in all and
//! [`LINGER_IDLE`] without a byte.
//!
//! The bound is in time only: discarding costs a read per buffer and
//! holds no memory past [`DISCARD_BUFFER`].

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Longest a closing connection is read and discarded (nginx's
/// `lingering_time` is 30 s; a gateway closing under load wants it short).
pub const LINGER_TIME: Duration = Duration::from_secs(5);

/// Longest wait for the client's next bytes (or its FIN) while lingering
/// (nginx's `lingering_timeout`).
pub const LINGER_IDLE: Duration = Duration::from_secs(1);

/// Size of the stack buffer discarded bytes are read into.
const DISCARD_BUFFER: usize = 8 * 1024;

/// A connection being drained before it is dropped.
#[derive(Debug)]
pub struct Lingering {
    until: Instant,
    idle: Pin<Box<Sleep>>,
}

impl Lingering {
    pub fn start() -> Self {
        let now = Instant::now();
        Self {
            until: now + LINGER_TIME,
            idle: Box::pin(tokio::time::sleep_until(now + LINGER_IDLE)),
        }
    }

    /// Reads and discards until the client closes, the socket fails, or
    /// a bound passes; then `Ready`, and the connection may be dropped.
    pub fn poll_drain<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        let mut scratch = [0u8; DISCARD_BUFFER];
        loop {
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut *stream).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(()),
                Poll::Ready(Ok(())) => {
                    let now = Instant::now();
                    if now >= self.until {
                        return Poll::Ready(());
                    }
                    let next = (now + LINGER_IDLE).min(self.until);
                    self.idle.as_mut().reset(next);
                }
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => {
                    return match self.idle.as_mut().poll(cx) {
                        Poll::Ready(()) => Poll::Ready(()),
                        Poll::Pending => Poll::Pending,
                    };
                }
            }
        }
    }
}

/// Shuts the write side of `stream`, then lingers (see the module).
pub fn poll_close<S: AsyncRead + tokio::io::AsyncWrite + Unpin>(
    stream: &mut S,
    lingering: &mut Option<Lingering>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    if lingering.is_none() {
        std::task::ready!(Pin::new(&mut *stream).poll_shutdown(cx))?;
        *lingering = Some(Lingering::start());
    }
    match lingering.as_mut() {
        Some(draining) => draining.poll_drain(stream, cx).map(Ok),
        None => Poll::Ready(Ok(())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn close(stream: &mut tokio::io::DuplexStream) {
        let mut lingering = None;
        std::future::poll_fn(|cx| poll_close(stream, &mut lingering, cx))
            .await
            .expect("close");
    }

    #[tokio::test(start_paused = true)]
    async fn it_ends_when_the_client_closes_after_reading_everything() {
        let (mut server, mut client) = tokio::io::duplex(64);
        let started = Instant::now();
        let closing = tokio::spawn(async move { close(&mut server).await });
        client
            .write_all(b"the rest of a body")
            .await
            .expect("write");
        let mut seen = Vec::new();
        // The server's FIN: the client reads to the end, then closes.
        client.read_to_end(&mut seen).await.expect("read");
        drop(client);
        closing.await.expect("closed");
        assert!(Instant::now() - started < LINGER_IDLE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_is_dropped_after_the_idle_bound() {
        let (mut server, _client) = tokio::io::duplex(64);
        let started = Instant::now();
        close(&mut server).await;
        assert_eq!(Instant::now() - started, LINGER_IDLE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_keeps_sending_is_dropped_after_the_total_bound() {
        let (mut server, mut client) = tokio::io::duplex(64);
        let started = Instant::now();
        let closing = tokio::spawn(async move { close(&mut server).await });
        let sender = tokio::spawn(async move {
            while client.write_all(&[b'x'; 32]).await.is_ok() {
                tokio::time::sleep(LINGER_IDLE / 2).await;
            }
        });
        closing.await.expect("closed");
        let took = Instant::now() - started;
        assert!(
            took >= LINGER_TIME && took < LINGER_TIME + LINGER_IDLE,
            "{took:?}"
        );
        sender.abort();
    }
}
