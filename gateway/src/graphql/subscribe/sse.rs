//! Subscriptions over Server-Sent Events (the "distinct connections"
//! mode of GraphQL over SSE): each response is an `event: next`, the end
//! is an `event: complete`. When the gateway starts to drain, an open
//! stream gets a last `event: next` whose only error has the code
//! `SHUTTING_DOWN`, then its `event: complete`.

use bytes::Bytes;
use futures::stream::{self, StreamExt};
use http::Response;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http_body::Frame;
use serde_json::{Value, json};

use super::ResponseStream;
use crate::body::{self, BoxError, GatewayBody};
use crate::drain::Drain;
use crate::graphql::error::GraphqlError;

/// Whether the client asks for an event stream.
pub fn wants_event_stream<B>(request: &http::Request<B>) -> bool {
    request
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

/// The SSE response for `events`, cut short when `drain` starts.
pub fn response(events: ResponseStream, drain: &Drain) -> Response<GatewayBody> {
    let frames = drain
        .cut_short(events, going_away)
        .map(|event: Value| format!("event: next\ndata: {event}\n\n"))
        .chain(stream::once(async {
            "event: complete\ndata:\n\n".to_owned()
        }))
        .map(|text| Ok::<_, BoxError>(Frame::data(Bytes::from(text))));
    let mut response = Response::new(body::boxed(http_body_util::StreamBody::new(frames)));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The last event of a stream cut short by the drain.
pub(crate) fn going_away() -> Value {
    json!({ "errors": [GraphqlError::new(
        "SHUTTING_DOWN",
        "the gateway is shutting down; subscribe again to continue",
    )] })
}
