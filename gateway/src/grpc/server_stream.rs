//! Server streaming: one JSON request, then the replies as NDJSON or as
//! Server-Sent Events (`Accept: text/event-stream`).
//!
//! Each reply is written as soon as it arrives. The upstream call has no
//! body idle timeout unless the route sets `body_idle_timeout` (a watch
//! may be quiet for long); an SSE stream gets a heartbeat comment after
//! `server.streams.sse_heartbeat` of silence. An immediate error (a
//! trailers-only gRPC response) is an ordinary error response with its
//! mapped HTTP status; an error once the stream is open becomes a final error line (`{"error": Status}`) or an
//! `event: error`, so a cut-short stream is never a silent 200. When the
//! client goes away, hyper drops the body, which drops the upstream stream
//! and so cancels the call. When the gateway starts to drain, the stream
//! ends with a final `UNAVAILABLE` error whose reason is `SHUTTING_DOWN`
//! (an `{"error": ...}` line, or an `event: error`), and the call is
//! cancelled.

use bytes::Bytes;
use futures::stream;
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Request, Response};
use http_body::Frame;
use http_body_util::StreamBody;
use prost_reflect::MessageDescriptor;
use serde_json::json;

use super::call::{self, MessageStream, grpc_request};
use super::error::GrpcError;
use super::route::{GrpcRoute, Transcoding};
use super::unary::request_message;
use super::{framing, transcode};
use crate::body::{self, BoxError, GatewayBody};
use crate::context::RequestContext;
use crate::sse_heartbeat::SseHeartbeat;

/// How the replies are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFormat {
    /// `application/x-ndjson`: one JSON object per line.
    Ndjson,
    /// `text/event-stream`: one `data:` event per reply.
    Sse,
}

impl StreamFormat {
    pub fn from_accept(headers: &HeaderMap) -> Self {
        let accept = headers
            .get_all(ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        if accept.contains("text/event-stream") {
            StreamFormat::Sse
        } else {
            StreamFormat::Ndjson
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            StreamFormat::Ndjson => "application/x-ndjson",
            StreamFormat::Sse => "text/event-stream",
        }
    }

    /// One reply, framed.
    pub fn message(self, json: &[u8]) -> Bytes {
        match self {
            StreamFormat::Ndjson => [json, b"\n"].concat().into(),
            StreamFormat::Sse => [b"data: ".as_slice(), json, b"\n\n"].concat().into(),
        }
    }

    /// The final error, framed.
    pub fn error(self, error: &GrpcError) -> Bytes {
        let status = error.to_status_json();
        match self {
            StreamFormat::Ndjson => format!("{}\n", json!({"error": status})).into(),
            StreamFormat::Sse => format!("event: error\ndata: {status}\n\n").into(),
        }
    }
}

/// Transcodes a server-streaming call.
pub async fn server_streaming(
    request: Request<GatewayBody>,
    ctx: RequestContext,
    route: &GrpcRoute,
    transcoding: &Transcoding,
) -> Result<Response<GatewayBody>, GrpcError> {
    let pool = std::sync::Arc::clone(&route.pool);
    let format = StreamFormat::from_accept(request.headers());
    let (parts, body) = request.into_parts();
    let message = request_message(&parts, body, &ctx, transcoding).await?;
    let payload = body::full(framing::encode(&transcode::encode(&message)));
    let upstream = grpc_request(
        &transcoding.grpc_path,
        &parts.headers,
        &parts.uri,
        &route.metadata,
        &ctx,
        ctx.route.timeout,
        payload,
    )?;
    let mut messages = call::start_stream(
        &pool,
        upstream,
        ctx.timeout_or(pool.spec().request_timeout),
        ctx.route.body_idle_timeout,
    )
    .await?;
    // A trailers-only answer (NOT_FOUND, ...) is known at once: give it its
    // HTTP status. Otherwise answer now, so the client has the head while
    // waiting for the first reply.
    if messages.is_trailers_only() {
        messages.next_message().await?;
    }
    let response = stream_response(messages, route, transcoding, format);
    if format != StreamFormat::Sse {
        return Ok(response);
    }
    let heartbeat = ctx.snapshot.config.server.streams.sse_heartbeat;
    Ok(response.map(|body| body::boxed(SseHeartbeat::new(body, heartbeat))))
}

/// The 200 head (with metadata) and a body that writes each reply.
fn stream_response(
    messages: MessageStream,
    route: &GrpcRoute,
    transcoding: &Transcoding,
    format: StreamFormat,
) -> Response<GatewayBody> {
    let mut response = Response::new(body::empty());
    messages.copy_metadata(&route.metadata, response.headers_mut());
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let replies = Replies {
        messages,
        output: transcoding.method.output(),
        format,
        finished: false,
    };
    let chunks = crate::drain::current()
        .cut_short(stream::unfold(replies, Replies::next_chunk), move || {
            Ok(Frame::data(format.error(&GrpcError::ShuttingDown)))
        });
    *response.body_mut() = body::boxed(StreamBody::new(chunks));
    response
}

/// The reply stream's state.
struct Replies {
    messages: MessageStream,
    output: MessageDescriptor,
    format: StreamFormat,
    finished: bool,
}

impl Replies {
    async fn next_chunk(mut self) -> Option<(Result<Frame<Bytes>, BoxError>, Self)> {
        if self.finished {
            return None;
        }
        let payload = match self.messages.next_message().await {
            Ok(Some(payload)) => payload,
            Ok(None) => return None,
            Err(error) => return Some(self.fail(&error)),
        };
        match transcode::json_from_protobuf(&self.output, payload) {
            Ok(json) => Some((Ok(Frame::data(self.format.message(&json))), self)),
            Err(error) => Some(self.fail(&error.into())),
        }
    }

    /// The final error chunk; the stream ends after it.
    fn fail(mut self, error: &GrpcError) -> (Result<Frame<Bytes>, BoxError>, Self) {
        error.log_stream_end();
        self.finished = true;
        (Ok(Frame::data(self.format.error(error))), self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_chooses_sse_or_ndjson() {
        let mut headers = HeaderMap::new();
        assert_eq!(StreamFormat::from_accept(&headers), StreamFormat::Ndjson);
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        assert_eq!(StreamFormat::from_accept(&headers), StreamFormat::Sse);
    }

    #[test]
    fn messages_and_the_final_error_are_framed_per_format() {
        assert_eq!(&StreamFormat::Ndjson.message(b"{}")[..], b"{}\n");
        assert_eq!(&StreamFormat::Sse.message(b"{}")[..], b"data: {}\n\n");
        let error = GrpcError::bad_request("X", "bad");
        let line = StreamFormat::Ndjson.error(&error);
        let parsed: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(
            (parsed["error"]["code"].as_i64(), line.ends_with(b"\n")),
            (Some(3), true)
        );
        let event = StreamFormat::Sse.error(&error);
        assert!(event.starts_with(b"event: error\ndata: {") && event.ends_with(b"\n\n"));
    }
}
