//! A topic as Server-Sent Events: each event one message with `id:` its
//! position in the log (what an `EventSource` sends back as
//! `Last-Event-ID`), `event:` its CloudEvents `type` and `data:` the
//! CloudEvent JSON on one line. A [`Gap`] is an `event: gap` message
//! without an `id:` (the client's last id stays that of the last real
//! event). The stream ends with an `event: error` message: `SHUTTING_DOWN`
//! when the gateway drains, `EVENT_STORE_UNAVAILABLE` when the store
//! fails; the client reconnects with `Last-Event-ID` and loses nothing.
//!
//! The body is pulled by hyper: the next event is read from the log only
//! once the previous one was handed to the connection, so a slow client
//! holds at most one page of events. Quiet streams get the heartbeat
//! comments of [`crate::sse_heartbeat`].

use bytes::Bytes;
use futures::stream;
use http::Response;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http_body::Frame;
use http_body_util::StreamBody;
use serde_json::json;

use super::cursor::{Gap, LogCursor, StreamItem};
use super::limit::StreamPermit;
use crate::body::{self, BoxError, GatewayBody};
use crate::events::store::StoredEvent;
use crate::sse_heartbeat::SseHeartbeat;

/// One event, framed.
pub fn event_message(stored: &StoredEvent) -> Bytes {
    let data = serde_json::to_string(&*stored.event).unwrap_or_else(|_| "null".to_owned());
    let mut message = format!("id: {}\n", stored.position);
    // A line break in the type would end the field early: such an event
    // goes out as a plain `message` event.
    if is_field_safe(&stored.event.event_type) {
        message.push_str("event: ");
        message.push_str(&stored.event.event_type);
        message.push('\n');
    }
    message.push_str("data: ");
    message.push_str(&data);
    message.push_str("\n\n");
    message.into()
}

/// A gap notice, framed (no `id:`).
pub fn gap_message(gap: &Gap) -> Bytes {
    let data = serde_json::to_string(gap).unwrap_or_default();
    format!("event: gap\ndata: {data}\n\n").into()
}

/// The stream's last message: why it ends.
pub fn error_message(code: &str, message: &str, request_id: &str) -> Bytes {
    let data = json!({"error": {"code": code, "message": message, "request_id": request_id}});
    format!("event: error\ndata: {data}\n\n").into()
}

/// Whether `value` can be an SSE field value as is.
fn is_field_safe(value: &str) -> bool {
    !value.is_empty() && !value.contains(['\n', '\r', '\0'])
}

/// The SSE response: the cursor's events until the client leaves, the
/// store fails or the gateway drains.
pub fn response(
    cursor: LogCursor,
    permit: StreamPermit,
    request_id: String,
    heartbeat: std::time::Duration,
) -> Response<GatewayBody> {
    let state = Messages {
        cursor,
        _permit: permit,
        request_id: request_id.clone(),
        finished: false,
    };
    let messages = stream::unfold(state, Messages::next_frame);
    let frames = crate::drain::current().cut_short(messages, move || {
        Ok(Frame::data(error_message(
            "SHUTTING_DOWN",
            super::SHUTTING_DOWN_MESSAGE,
            &request_id,
        )))
    });
    let body = body::boxed(StreamBody::new(frames));
    let mut response = Response::new(body::boxed(SseHeartbeat::new(body, heartbeat)));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Tells buffering proxies (nginx) to pass each event on at once.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// The body's state: the permit is held as long as the body lives.
struct Messages {
    cursor: LogCursor,
    _permit: StreamPermit,
    request_id: String,
    finished: bool,
}

impl Messages {
    async fn next_frame(mut self) -> Option<(Result<Frame<Bytes>, BoxError>, Self)> {
        if self.finished {
            return None;
        }
        let message = match self.cursor.next().await {
            Ok(StreamItem::Event(stored)) => event_message(&stored),
            Ok(StreamItem::Gap(gap)) => gap_message(&gap),
            Err(error) => {
                tracing::warn!(%error, "an event stream ended: the store failed");
                self.finished = true;
                error_message(
                    "EVENT_STORE_UNAVAILABLE",
                    super::STORE_FAILED_MESSAGE,
                    &self.request_id,
                )
            }
        };
        Some((Ok(Frame::data(message)), self))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::SystemTime;

    use super::*;
    use crate::events::cloud_event::CloudEvent;

    fn stored(event_type: &str) -> StoredEvent {
        StoredEvent {
            topic: Arc::from("orders"),
            position: 42,
            event: Arc::new(CloudEvent {
                specversion: "1.0".to_owned(),
                id: "e-1".to_owned(),
                source: "/orders".to_owned(),
                event_type: event_type.to_owned(),
                subject: Some("o-1".to_owned()),
                time: None,
                datacontenttype: None,
                data: Some(json!({"note": "two\nlines"})),
                data_base64: None,
                extensions: BTreeMap::new(),
            }),
            stored_at: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn an_event_is_one_message_with_its_position_type_and_json() {
        let message = event_message(&stored("OrderPlaced"));
        let text = std::str::from_utf8(&message).unwrap();
        let lines: Vec<&str> = text.strip_suffix("\n\n").unwrap().split('\n').collect();
        assert_eq!(lines[..2], ["id: 42", "event: OrderPlaced"]);
        assert_eq!(lines.len(), 3, "the JSON stays on one data line: {text}");
        let data: serde_json::Value =
            serde_json::from_str(lines[2].strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(
            (
                data["id"].as_str(),
                data["type"].as_str(),
                data["subject"].as_str()
            ),
            (Some("e-1"), Some("OrderPlaced"), Some("o-1"))
        );
    }

    #[test]
    fn a_type_with_a_line_break_is_left_out_of_the_event_field() {
        let message = event_message(&stored("Order\nPlaced"));
        let text = std::str::from_utf8(&message).unwrap();
        assert!(text.starts_with("id: 42\ndata: {"), "{text}");
        assert_eq!(text.matches('\n').count(), 3);
    }

    #[test]
    fn gaps_and_errors_carry_no_id() {
        let gap = Gap {
            code: "EVENTS_EXPIRED",
            message: "gone".to_owned(),
            requested: 3,
            resumes_at: 9,
        };
        let text = String::from_utf8(gap_message(&gap).to_vec()).unwrap();
        assert!(text.starts_with("event: gap\ndata: {") && text.ends_with("}\n\n"));
        assert!(text.contains(r#""resumes_at":9"#) && !text.contains("id:"));
        let error = error_message("SHUTTING_DOWN", "bye", "r-1");
        let text = std::str::from_utf8(&error).unwrap();
        let data: serde_json::Value = serde_json::from_str(
            text.strip_prefix("event: error\ndata: ")
                .unwrap()
                .trim_end(),
        )
        .unwrap();
        assert_eq!(data["error"]["code"], "SHUTTING_DOWN");
        assert_eq!(data["error"]["request_id"], "r-1");
    }
}
