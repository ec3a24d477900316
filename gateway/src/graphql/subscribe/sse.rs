//! Subscriptions over Server-Sent Events (the "distinct connections"
//! mode of GraphQL over SSE): each response is an `event: next`, the end
//! is an `event: complete`.

use bytes::Bytes;
use futures::stream::{self, StreamExt};
use http::Response;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http_body::Frame;
use serde_json::Value;

use super::ResponseStream;
use crate::body::{self, BoxError, GatewayBody};

/// Whether the client asks for an event stream.
pub fn wants_event_stream<B>(request: &http::Request<B>) -> bool {
    request
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

/// The SSE response for `events`.
pub fn response(events: ResponseStream) -> Response<GatewayBody> {
    let frames = events
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
