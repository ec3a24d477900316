//! A topic over WebSocket: each event one text frame,
//! `{"position": N, "event": {CloudEvent}}`; a [`Gap`] is a frame
//! `{"gap": {...}}`. A client resumes with the `last_event_id` query
//! parameter of its next connection (the position of the last event it
//! got). Frames from the client are not expected: data frames are
//! ignored; Pings, Pongs and Close are answered as the protocol says.
//!
//! The session ends with a close frame: 1001 `SHUTTING_DOWN` when the
//! gateway drains, 1011 `EVENT_STORE_UNAVAILABLE` when the store fails,
//! 1001 when the client stops answering pings ([`crate::ws_keepalive`]).
//! The next event is read from the log only once the previous frame was
//! written, so a slow client holds at most one page of events.

use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use super::cursor::{Gap, LogCursor, StreamItem};
use super::limit::StreamPermit;
use crate::config::model::StreamSettings;
use crate::drain::Drain;
use crate::events::store::StoredEvent;
use crate::websocket::ServerSocket;
use crate::ws_keepalive::{Keepalive, PING_TIMEOUT_CODE, PING_TIMEOUT_REASON, WsKeepalive};

/// One event's text frame.
pub fn event_frame(stored: &StoredEvent) -> String {
    json!({"position": stored.position, "event": &*stored.event}).to_string()
}

/// A gap notice's text frame.
pub fn gap_frame(gap: &Gap) -> String {
    json!({ "gap": gap }).to_string()
}

/// Everything a session needs; the permit is held until it ends.
pub struct Session {
    pub cursor: LogCursor,
    pub permit: StreamPermit,
    pub streams: StreamSettings,
    pub drain: Drain,
}

impl Session {
    /// Streams the topic on `socket` until either side ends it.
    pub async fn run(mut self, socket: ServerSocket) {
        let (mut sink, mut incoming) = socket.split();
        let mut keepalive = WsKeepalive::new(&self.streams);
        let heard = keepalive.heard();
        let draining = self.drain.started();
        tokio::pin!(draining);
        let close = loop {
            tokio::select! {
                biased;
                () = &mut draining => break Some(close(1001, super::SHUTTING_DOWN_MESSAGE, "SHUTTING_DOWN")),
                message = incoming.next() => {
                    heard.now();
                    match message {
                        Some(Ok(Message::Close(_))) => {
                            // tungstenite queued the echo of the client's
                            // close frame: flushing completes the handshake.
                            let _ = sink.flush().await;
                            break None;
                        }
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => break None,
                    }
                }
                due = keepalive.due() => match due {
                    Keepalive::Ping => {
                        if sink.send(Message::Ping(Default::default())).await.is_err() {
                            break None;
                        }
                    }
                    Keepalive::GiveUp => break Some(CloseFrame {
                        code: PING_TIMEOUT_CODE.into(),
                        reason: PING_TIMEOUT_REASON.into(),
                    }),
                },
                item = self.cursor.next() => {
                    let text = match item {
                        Ok(StreamItem::Event(stored)) => event_frame(&stored),
                        Ok(StreamItem::Gap(gap)) => gap_frame(&gap),
                        Err(error) => {
                            tracing::warn!(%error, "an event stream ended: the store failed");
                            break Some(close(1011, super::STORE_FAILED_MESSAGE, "EVENT_STORE_UNAVAILABLE"));
                        }
                    };
                    if sink.send(Message::text(text)).await.is_err() {
                        break None;
                    }
                }
            }
        };
        if let Some(close) = close {
            let _ = sink.send(Message::Close(Some(close))).await;
            let _ = sink.close().await;
        }
        drop(self.permit);
    }
}

/// A close frame `CODE: message` (within the protocol's 123 bytes).
fn close(code: u16, message: &str, name: &str) -> CloseFrame {
    let mut reason = format!("{name}: {message}");
    while reason.len() > 123 {
        reason.pop();
    }
    CloseFrame {
        code: code.into(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_name_their_code_and_fit_the_frame() {
        let frame = close(1001, super::super::SHUTTING_DOWN_MESSAGE, "SHUTTING_DOWN");
        assert!(frame.reason.starts_with("SHUTTING_DOWN: "));
        assert!(frame.reason.len() <= 123);
        let long = close(1011, &"x".repeat(300), "EVENT_STORE_UNAVAILABLE");
        assert_eq!(long.reason.len(), 123);
    }

    #[test]
    fn a_gap_frame_is_tagged() {
        let gap = Gap {
            code: "POSITION_PAST_END",
            message: "m".to_owned(),
            requested: 90,
            resumes_at: 1,
        };
        let frame: serde_json::Value = serde_json::from_str(&gap_frame(&gap)).unwrap();
        assert_eq!(frame["gap"]["code"], "POSITION_PAST_END");
        assert_eq!(frame["gap"]["resumes_at"], 1);
    }
}
