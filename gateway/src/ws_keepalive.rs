//! WebSocket liveness on the gateway's own WebSocket endpoints (gRPC
//! bidirectional streaming, GraphQL `graphql-transport-ws`): after
//! `server.streams.websocket_ping_interval` without a frame from the
//! client, the gateway sends a Ping; when nothing at all (Pong or any
//! other frame) arrives within `server.streams.websocket_pong_timeout`
//! after it, the socket is closed with 1001 ("ping timeout").
//!
//! [`Heard`] is shared with whatever reads the client's frames;
//! [`WsKeepalive::due`] is awaited next to the writer (it owns the sink)
//! and is cancel-safe, so it can sit in a `select!` loop.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use crate::config::model::StreamSettings;

/// When the client was last heard from.
#[derive(Debug, Clone)]
pub struct Heard(Arc<(Instant, AtomicU64)>);

impl Heard {
    fn new(now: Instant) -> Self {
        Self(Arc::new((now, AtomicU64::new(0))))
    }

    /// A frame (any kind) arrived from the client.
    pub fn now(&self) {
        let (epoch, micros) = &*self.0;
        let since = Instant::now().saturating_duration_since(*epoch);
        micros.store(
            u64::try_from(since.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn last(&self) -> Instant {
        let (epoch, micros) = &*self.0;
        *epoch + Duration::from_micros(micros.load(Ordering::Relaxed))
    }
}

/// What the writer should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keepalive {
    /// Send a Ping now.
    Ping,
    /// The client did not answer: close the socket.
    GiveUp,
}

/// One socket's ping timer.
#[derive(Debug)]
pub struct WsKeepalive {
    heard: Heard,
    interval: Duration,
    pong_timeout: Duration,
    ping_sent: Option<Instant>,
    sleep: Pin<Box<Sleep>>,
}

impl WsKeepalive {
    pub fn new(settings: &StreamSettings) -> Self {
        let now = Instant::now();
        Self {
            heard: Heard::new(now),
            interval: settings.websocket_ping_interval,
            pong_timeout: settings.websocket_pong_timeout,
            ping_sent: None,
            sleep: Box::pin(tokio::time::sleep_until(
                now + settings.websocket_ping_interval,
            )),
        }
    }

    /// The handle the reader updates.
    pub fn heard(&self) -> Heard {
        self.heard.clone()
    }

    /// Waits until a Ping is due or the client has not answered one.
    pub async fn due(&mut self) -> Keepalive {
        loop {
            let last = self.heard.last();
            if self.ping_sent.is_some_and(|sent| last >= sent) {
                self.ping_sent = None;
            }
            let deadline = match self.ping_sent {
                Some(sent) => sent + self.pong_timeout,
                None => last + self.interval,
            };
            if self.sleep.deadline() != deadline {
                self.sleep.as_mut().reset(deadline);
            }
            self.sleep.as_mut().await;
            let now = Instant::now();
            let last = self.heard.last();
            match self.ping_sent {
                Some(sent) if last < sent && now >= sent + self.pong_timeout => {
                    return Keepalive::GiveUp;
                }
                None if now >= last + self.interval => {
                    self.ping_sent = Some(now);
                    return Keepalive::Ping;
                }
                _ => {}
            }
        }
    }
}

/// The close frame's code and reason for [`Keepalive::GiveUp`].
pub const PING_TIMEOUT_CODE: u16 = 1001;
pub const PING_TIMEOUT_REASON: &str = "ping timeout";

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> StreamSettings {
        StreamSettings {
            sse_heartbeat: Duration::from_secs(15),
            websocket_ping_interval: Duration::from_secs(30),
            websocket_pong_timeout: Duration::from_secs(10),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_client_is_pinged_and_given_up_on_without_an_answer() {
        let mut keepalive = WsKeepalive::new(&settings());
        let start = Instant::now();
        assert_eq!(keepalive.due().await, Keepalive::Ping);
        assert_eq!(Instant::now() - start, Duration::from_secs(30));
        assert_eq!(keepalive.due().await, Keepalive::GiveUp);
        assert_eq!(Instant::now() - start, Duration::from_secs(40));
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_or_any_frame_keeps_the_socket() {
        let mut keepalive = WsKeepalive::new(&settings());
        let heard = keepalive.heard();
        let start = Instant::now();
        assert_eq!(keepalive.due().await, Keepalive::Ping);
        tokio::time::advance(Duration::from_secs(5)).await;
        heard.now();
        // The next ping comes a full interval after the answer.
        assert_eq!(keepalive.due().await, Keepalive::Ping);
        assert_eq!(Instant::now() - start, Duration::from_secs(65));
    }
}
