//! gRPC-Web, translated to gRPC at the edge so browsers can call gRPC
//! backends with no extra proxy.
//!
//! `application/grpc-web` and `application/grpc-web+proto` carry the same
//! length-prefixed frames as gRPC; `application/grpc-web-text` carries them
//! base64-encoded. The request is forwarded as `application/grpc` over
//! HTTP/2; in the response, the HTTP/2 trailers become the gRPC-Web
//! trailer frame (flag `0x80`, `name: value\r\n` lines) at the end of the
//! body, which HTTP/1.1 clients can read.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Request, Response};
use http_body::Frame;
use http_body_util::{BodyExt, BodyStream, StreamBody};

use super::error::GrpcError;
use super::framing::{TRAILER_FLAG, encode_with_flags};
use super::passthrough::forward;
use super::route::GrpcRoute;
use crate::body::{self, BoxError, GatewayBody};
use crate::client_body::ClientBodyError;
use crate::context::RequestContext;

/// Which gRPC-Web encoding a request uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebKind {
    Binary,
    Text,
}

impl WebKind {
    /// From a lower-cased `Content-Type`.
    pub fn of(content_type: &str) -> Option<Self> {
        if content_type.starts_with("application/grpc-web-text") {
            Some(WebKind::Text)
        } else if content_type.starts_with("application/grpc-web") {
            Some(WebKind::Binary)
        } else {
            None
        }
    }

    fn response_content_type(self) -> &'static str {
        match self {
            WebKind::Binary => "application/grpc-web+proto",
            WebKind::Text => "application/grpc-web-text+proto",
        }
    }
}

/// Translates a gRPC-Web call to gRPC and the response back.
pub async fn serve(
    request: Request<GatewayBody>,
    ctx: RequestContext,
    route: &GrpcRoute,
    kind: WebKind,
) -> Result<Response<GatewayBody>, GrpcError> {
    let (mut parts, body) = request.into_parts();
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.remove("x-grpc-web");
    let body = match kind {
        WebKind::Binary => body,
        WebKind::Text => decode_text_body(body),
    };
    let response = forward(Request::from_parts(parts, body), &ctx, route).await?;
    let (mut parts, body) = response.into_parts();
    parts.headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(kind.response_content_type()),
    );
    parts.headers.remove(CONTENT_LENGTH);
    Ok(Response::from_parts(
        parts,
        encode_response_body(body, kind),
    ))
}

/// Data passes through (base64-encoded for `-text`); trailers become the
/// trailer frame.
fn encode_response_body(body: GatewayBody, kind: WebKind) -> GatewayBody {
    body::boxed(body.map_frame(move |frame| {
        let bytes = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => match frame.into_trailers() {
                Ok(trailers) => trailer_frame(&trailers),
                Err(_) => Bytes::new(),
            },
        };
        match kind {
            WebKind::Binary => Frame::data(bytes),
            WebKind::Text => Frame::data(Bytes::from(STANDARD.encode(&bytes))),
        }
    }))
}

/// The gRPC-Web trailer frame for a trailer map.
pub fn trailer_frame(trailers: &HeaderMap) -> Bytes {
    let mut block = Vec::new();
    for (name, value) in trailers {
        block.extend_from_slice(name.as_str().as_bytes());
        block.extend_from_slice(b": ");
        block.extend_from_slice(value.as_bytes());
        block.extend_from_slice(b"\r\n");
    }
    encode_with_flags(TRAILER_FLAG, &block)
}

fn decode_text_body(body: GatewayBody) -> GatewayBody {
    let mut decoder = Base64Chunks::default();
    let frames = BodyStream::new(body).map(move |frame| -> Result<Frame<Bytes>, BoxError> {
        let frame = frame?;
        match frame.into_data() {
            // Broken base64 is the client's malformed body, not the backend's.
            Ok(data) => Ok(Frame::data(
                decoder.push(&data).map_err(ClientBodyError::new)?,
            )),
            Err(other) => Ok(other),
        }
    });
    body::boxed(StreamBody::new(frames))
}

/// Incremental base64 decoding of a body whose chunks were each encoded
/// on their own (so padding may appear mid-stream).
#[derive(Debug, Default)]
pub struct Base64Chunks {
    pending: BytesMut,
}

impl Base64Chunks {
    /// Decodes every complete 4-character group received so far.
    pub fn push(&mut self, input: &[u8]) -> Result<Bytes, base64::DecodeError> {
        self.pending
            .extend(input.iter().copied().filter(|b| !b.is_ascii_whitespace()));
        let ready = self.pending.split_to(self.pending.len() / 4 * 4);
        let mut out = Vec::with_capacity(ready.len() / 4 * 3);
        for quad in ready.chunks(4) {
            out.extend(STANDARD.decode(quad)?);
        }
        Ok(out.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64_split_anywhere_and_padded_mid_stream() {
        let encoded = format!(
            "{}{}",
            STANDARD.encode(b"hello"),
            STANDARD.encode(b"grpc-web!")
        );
        let mut decoder = Base64Chunks::default();
        let mut out = Vec::new();
        for byte in encoded.as_bytes() {
            out.extend_from_slice(&decoder.push(&[*byte]).unwrap());
        }
        assert_eq!(out, b"hellogrpc-web!");
        assert!(Base64Chunks::default().push(b"!!!!").is_err());
    }

    #[test]
    fn trailers_become_a_flagged_frame() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        let frame = trailer_frame(&trailers);
        assert_eq!(frame[0], TRAILER_FLAG);
        assert_eq!(&frame[5..], b"grpc-status: 0\r\n");
    }

    #[test]
    fn content_types_are_recognised() {
        assert_eq!(WebKind::of("application/grpc-web"), Some(WebKind::Binary));
        assert_eq!(
            WebKind::of("application/grpc-web+proto"),
            Some(WebKind::Binary)
        );
        assert_eq!(
            WebKind::of("application/grpc-web-text"),
            Some(WebKind::Text)
        );
        assert_eq!(WebKind::of("application/grpc"), None);
    }
}
