//! `GET` on a `publish: TOPIC` route: the topic streamed to the client
//! from its durable log (docs/events.md#streaming-a-topic).
//!
//! - A WebSocket upgrade gets one text frame per event ([`ws`]);
//! - any other `GET` gets Server-Sent Events ([`sse`]), unless its
//!   `Accept` rules `text/event-stream` out (406).
//!
//! Both read the log through a [`cursor::LogCursor`] from where the
//! request asks ([`request`]: `Last-Event-ID`, `last_event_id`, `from`),
//! optionally filtered by `subject` and `type`. Each open stream holds a
//! permit of the topic's `max_streams` ([`limit`]); one more is refused
//! with 503 `TOO_MANY_STREAMS`. The route's pipeline (CORS, auth, rate
//! limits, load shedding) ran before this handler, as for a POST.

pub mod cursor;
pub mod limit;
pub mod request;
pub mod sse;
pub mod ws;

use http::header::ACCEPT;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};

use super::store::StoreError;
use crate::body::GatewayBody;
use crate::config::model::events::PublishAction;
use crate::context::RequestContext;
use crate::edge_error::GatewayError;
use crate::websocket::{self, HandshakeError};
use cursor::LogCursor;
use request::{StreamRequest, StreamRequestError};

/// What a stream says when the gateway drains.
pub const SHUTTING_DOWN_MESSAGE: &str =
    "the gateway is shutting down; reconnect with the last event id to resume";
/// What a stream says when the store fails under it.
pub const STORE_FAILED_MESSAGE: &str =
    "the event store failed; reconnect with the last event id to resume";

/// Why a stream was refused.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("{0}")]
    Request(#[from] StreamRequestError),
    #[error("{0}")]
    Handshake(#[from] HandshakeError),
    #[error("the request does not accept text/event-stream")]
    NotAcceptable,
    #[error("the topic has its {0} streams open")]
    TooManyStreams(usize),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("no event bus is running")]
    NoBus,
}

impl From<StreamError> for GatewayError {
    fn from(error: StreamError) -> Self {
        let (status, code, message) = match &error {
            StreamError::Request(StreamRequestError::LastEventId(_)) => (
                StatusCode::BAD_REQUEST,
                "BAD_LAST_EVENT_ID",
                error.to_string(),
            ),
            StreamError::Request(StreamRequestError::From(_)) => (
                StatusCode::BAD_REQUEST,
                "BAD_STREAM_POSITION",
                error.to_string(),
            ),
            StreamError::Request(_) => (
                StatusCode::BAD_REQUEST,
                "BAD_STREAM_FILTER",
                error.to_string(),
            ),
            StreamError::Handshake(reason) => (
                StatusCode::BAD_REQUEST,
                "BAD_WEBSOCKET_HANDSHAKE",
                format!("not a valid WebSocket handshake: {reason}"),
            ),
            StreamError::NotAcceptable => (
                StatusCode::NOT_ACCEPTABLE,
                "NOT_ACCEPTABLE",
                "GET on a publish route streams the topic as text/event-stream (or over a WebSocket upgrade)".to_owned(),
            ),
            StreamError::TooManyStreams(max) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "TOO_MANY_STREAMS",
                format!("this topic already has its {max} open streams; retry later"),
            ),
            StreamError::Store(_) | StreamError::NoBus => (
                StatusCode::SERVICE_UNAVAILABLE,
                "EVENT_STORE_UNAVAILABLE",
                "the event store could not be read; retry later".to_owned(),
            ),
        };
        let rendered = GatewayError::new(status, code, message);
        match error {
            StreamError::TooManyStreams(_) => {
                rendered.with_header(http::header::RETRY_AFTER, HeaderValue::from_static("1"))
            }
            StreamError::Store(_) | StreamError::NoBus => rendered.with_source(error),
            _ => rendered,
        }
    }
}

/// Serves a `GET` on a publish route.
pub async fn handle(
    mut request: Request<GatewayBody>,
    ctx: RequestContext,
    action: PublishAction,
) -> Result<Response<GatewayBody>, StreamError> {
    let asked = StreamRequest::parse(request.headers(), request.uri().query())?;
    let handshake = if websocket::is_upgrade(&request) {
        Some(websocket::check(&request, None)?)
    } else if accepts_event_stream(request.headers()) {
        None
    } else {
        return Err(StreamError::NotAcceptable);
    };
    let bus = ctx.snapshot.events.clone().ok_or(StreamError::NoBus)?;
    let topic = &action.topic;
    let mut permit = bus
        .open_streams()
        .try_open(&topic.name, topic.max_streams)
        .ok_or(StreamError::TooManyStreams(topic.max_streams))?;
    if let Some(metrics) =
        crate::observe::Exchange::of(&request).and_then(|exchange| exchange.observers.metrics())
    {
        permit = permit.with_gauge(metrics.events().stream_gauge(&topic.name));
    }
    let cursor = LogCursor::open(
        std::sync::Arc::clone(bus.store()),
        &topic.name,
        asked.start,
        asked.filter,
        cursor::page_size(topic.max_event_bytes),
    )
    .await?;
    let streams = ctx.snapshot.config.server.streams;
    let Some(handshake) = handshake else {
        return Ok(sse::response(
            cursor,
            permit,
            ctx.request_id.as_str().to_owned(),
            streams.sse_heartbeat,
        ));
    };
    let drain = crate::drain::current();
    let guard = drain.track_stream();
    let session = ws::Session {
        cursor,
        permit,
        streams,
        drain,
    };
    Ok(websocket::accept(
        &mut request,
        handshake,
        move |socket| async move {
            let _open = guard;
            session.run(socket).await;
        },
    ))
}

/// Whether `Accept` allows `text/event-stream` (no `Accept` does).
fn accepts_event_stream(headers: &HeaderMap) -> bool {
    let mut values = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .peekable();
    if values.peek().is_none() {
        return true;
    }
    values.any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let refused = parts.any(|param| {
            param
                .trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        !refused && matches!(media.as_str(), "text/event-stream" | "text/*" | "*/*")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: Option<&str>) -> bool {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(ACCEPT, value.parse().unwrap());
        }
        accepts_event_stream(&headers)
    }

    #[test]
    fn event_streams_are_served_unless_accept_rules_them_out() {
        assert!(accept(None));
        assert!(accept(Some("text/event-stream")));
        assert!(accept(Some("*/*")));
        assert!(accept(Some("text/html, */*;q=0.8")));
        assert!(accept(Some("Text/Event-Stream; charset=utf-8")));
        assert!(!accept(Some("application/json")));
        assert!(!accept(Some("text/event-stream;q=0, application/json")));
        assert!(!accept(Some("text/event-stream; q=0.000")));
        assert!(accept(Some("text/event-stream; q=0.5")));
    }
}
