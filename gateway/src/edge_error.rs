//! The one place where errors become responses.
//!
//! Every module has its own error type (`ProxyError`, `UpstreamError`, ...)
//! and converts it into a [`GatewayError`]: a status, a stable `code`, a
//! message and the wire form the client expects. [`GatewayError::into_response`]
//! renders it. Nothing reaches hyper as an error.
//!
//! The `message` is what the client reads: it names what the client got
//! wrong, or is a generic, stable sentence for failures on the gateway's
//! or a backend's side. Backend names and addresses, connection and OS
//! errors and library error chains live only in `source`, which the
//! rescue layer logs with the request id ([`GatewayError::detail`]).

use http::header::{CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use serde_json::{Value, json};

use crate::body::{self, BoxError, GatewayBody};
use crate::observe::ErrorCode;

/// The wire form of an error, chosen by the module that raised it.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorFormat {
    /// `{"error":{"code":..,"message":..,"request_id":..}}` (REST routes).
    Json,
    /// The JSON form of `google.rpc.Status` (transcoded gRPC routes).
    RpcStatus { grpc_code: i32, details: Vec<Value> },
    /// A trailers-only gRPC response (native gRPC passthrough).
    Grpc { grpc_code: i32 },
    /// `{"errors":[{"message":..,"extensions":{"code":..}}]}` (GraphQL),
    /// with the media type the client accepted.
    Graphql { content_type: &'static str },
    /// Several GraphQL errors (one per validation violation): each entry of
    /// `errors` (`message`, `locations`) gets `extensions.code` and
    /// `extensions.requestId`.
    GraphqlList {
        content_type: &'static str,
        errors: Vec<Value>,
    },
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct GatewayError {
    pub status: StatusCode,
    /// Stable, documented, SCREAMING_SNAKE_CASE.
    pub code: &'static str,
    pub message: String,
    pub format: ErrorFormat,
    /// Extra response headers (`Allow` on 405, ...).
    pub headers: HeaderMap,
    pub source: Option<BoxError>,
}

impl GatewayError {
    /// A REST-form error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            format: ErrorFormat::Json,
            headers: HeaderMap::new(),
            source: None,
        }
    }

    pub fn with_format(mut self, format: ErrorFormat) -> Self {
        self.format = format;
        self
    }

    pub fn with_header(mut self, name: http::HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The whole cause chain in one line, for the log (never the client).
    pub fn detail(&self) -> String {
        let mut text = String::new();
        let mut cause = self
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static));
        while let Some(current) = cause {
            let current_text = current.to_string();
            if !text.contains(&current_text) {
                if !text.is_empty() {
                    text.push_str(": ");
                }
                text.push_str(&current_text);
            }
            cause = current.source();
        }
        text
    }

    /// Renders the error. `request_id` is echoed in the body (the
    /// request-id layer also puts it in the `x-request-id` header).
    pub fn into_response(self, request_id: &str) -> Response<GatewayBody> {
        let (content_type, body) = match &self.format {
            ErrorFormat::Json => (
                "application/json",
                json!({"error": {"code": self.code, "message": self.message, "request_id": request_id}}),
            ),
            ErrorFormat::RpcStatus { grpc_code, details } => (
                "application/json",
                json!({"code": grpc_code, "message": self.message, "details": details}),
            ),
            ErrorFormat::Graphql { content_type } => (
                *content_type,
                json!({"errors": [{"message": self.message, "extensions": {"code": self.code, "requestId": request_id}}]}),
            ),
            ErrorFormat::GraphqlList {
                content_type,
                errors,
            } => {
                let extensions = json!({"code": self.code, "requestId": request_id});
                let errors: Vec<Value> = errors
                    .iter()
                    .cloned()
                    .map(|mut entry| {
                        if let Some(object) = entry.as_object_mut() {
                            object.insert("extensions".to_owned(), extensions.clone());
                        }
                        entry
                    })
                    .collect();
                (*content_type, json!({ "errors": errors }))
            }
            ErrorFormat::Grpc { grpc_code } => {
                let mut response = grpc_trailers_only(*grpc_code, &self.message);
                response.extensions_mut().insert(ErrorCode(self.code));
                // Extra headers (`Retry-After`, `x-gateway-attempts`) go
                // in the head, before the gRPC status.
                for (name, value) in &self.headers {
                    response.headers_mut().append(name, value.clone());
                }
                return response;
            }
        };
        let mut response = Response::new(body::full(body.to_string()));
        *response.status_mut() = self.status;
        response.extensions_mut().insert(ErrorCode(self.code));
        response.headers_mut().extend(self.headers);
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    }
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.code,
            self.status.as_u16(),
            self.message
        )
    }
}

impl std::error::Error for GatewayError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A gRPC error with no body: status 200 and the status in the headers.
fn grpc_trailers_only(grpc_code: i32, message: &str) -> Response<GatewayBody> {
    let mut response = Response::new(body::empty());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", HeaderValue::from(grpc_code));
    let encoded = percent_encoding::utf8_percent_encode(message, GRPC_MESSAGE_ESCAPES).to_string();
    if let Ok(value) = HeaderValue::from_str(&encoded) {
        headers.insert("grpc-message", value);
    }
    response
}

/// Percent-encoding for `grpc-message`, per the gRPC HTTP/2 spec: bytes
/// outside printable ASCII, and `%` itself.
const GRPC_MESSAGE_ESCAPES: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b'%');

/// An error written straight to an HTTP/1 socket, outside any request
/// (a head the parser refused, the header-read timeout's 408): the status
/// line, the usual JSON body with `request_id` (which the caller also
/// logs), and `connection: close`.
pub fn raw_http1_error(
    status: StatusCode,
    code: &'static str,
    message: &str,
    request_id: &str,
) -> Vec<u8> {
    let body =
        json!({"error": {"code": code, "message": message, "request_id": request_id}}).to_string();
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         x-request-id: {request_id}\r\nconnection: close\r\n\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes()
}
