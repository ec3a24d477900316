//! Open long-lived streams, by kind: a gauge raised when a stream opens
//! and lowered by a drop guard, so a stream that ends any way (finished,
//! failed, cut short by the drain, abandoned by its client) is counted
//! out exactly once.

use http::Response;
use http::header::CONTENT_TYPE;
use prometheus_client::metrics::gauge::Gauge;

/// A kind of long-lived stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// `text/event-stream` responses (gRPC server streams, GraphQL,
    /// proxied SSE).
    Sse,
    /// `application/x-ndjson` responses (gRPC server streams).
    Ndjson,
    /// Upgraded WebSocket sessions (gRPC bidi, GraphQL transport-ws).
    WebSocket,
}

impl StreamKind {
    pub const ALL: [StreamKind; 3] = [StreamKind::Sse, StreamKind::Ndjson, StreamKind::WebSocket];

    pub fn label(self) -> &'static str {
        match self {
            StreamKind::Sse => "sse",
            StreamKind::Ndjson => "ndjson",
            StreamKind::WebSocket => "websocket",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The streaming kind of a response, from its content type; `None`
    /// for ordinary responses. WebSockets are counted where the upgraded
    /// session runs, not here (the 101 answer itself ends at once).
    pub fn of_response<B>(response: &Response<B>) -> Option<StreamKind> {
        // Compared as bytes: this runs on every response, and most are
        // not streams (no UTF-8 check, no string splitting).
        let content_type = response.headers().get(CONTENT_TYPE)?.as_bytes();
        let essence = match content_type.iter().position(|byte| *byte == b';') {
            Some(end) => &content_type[..end],
            None => content_type,
        }
        .trim_ascii();
        if essence.eq_ignore_ascii_case(b"text/event-stream") {
            Some(StreamKind::Sse)
        } else if essence.eq_ignore_ascii_case(b"application/x-ndjson") {
            Some(StreamKind::Ndjson)
        } else {
            None
        }
    }
}

/// One gauge per [`StreamKind`].
#[derive(Debug, Default)]
pub(super) struct OpenStreams {
    gauges: [Gauge; 3],
}

impl OpenStreams {
    pub(super) fn gauge(&self, kind: StreamKind) -> &Gauge {
        &self.gauges[kind.index()]
    }

    pub(super) fn open(&self, kind: StreamKind) -> OpenStream {
        let gauge = self.gauge(kind).clone();
        gauge.inc();
        OpenStream { gauge }
    }
}

/// Counts one stream as open until dropped.
#[derive(Debug)]
pub struct OpenStream {
    gauge: Gauge,
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_type(value: &str) -> Response<()> {
        let mut response = Response::new(());
        response
            .headers_mut()
            .insert(CONTENT_TYPE, value.parse().expect("header"));
        response
    }

    #[test]
    fn stream_kinds_come_from_the_content_type() {
        assert_eq!(
            StreamKind::of_response(&with_type("text/event-stream")),
            Some(StreamKind::Sse)
        );
        assert_eq!(
            StreamKind::of_response(&with_type("Text/Event-Stream; charset=utf-8")),
            Some(StreamKind::Sse)
        );
        assert_eq!(
            StreamKind::of_response(&with_type("application/x-ndjson")),
            Some(StreamKind::Ndjson)
        );
        assert_eq!(
            StreamKind::of_response(&with_type("application/json")),
            None
        );
        assert_eq!(StreamKind::of_response(&Response::new(())), None);
    }

    #[test]
    fn a_guard_counts_its_stream_until_dropped() {
        let streams = OpenStreams::default();
        let first = streams.open(StreamKind::Sse);
        let second = streams.open(StreamKind::Sse);
        assert_eq!(streams.gauge(StreamKind::Sse).get(), 2);
        assert_eq!(streams.gauge(StreamKind::WebSocket).get(), 0);
        drop(first);
        drop(second);
        assert_eq!(streams.gauge(StreamKind::Sse).get(), 0);
    }
}
