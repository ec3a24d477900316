//! The bridge's errors, and how each looks to the client.
//!
//! A [`GrpcError`] becomes a [`GatewayError`] in one of two wire forms:
//! on transcoded routes the JSON `google.rpc.Status` (`From<GrpcError>`),
//! on passthrough routes a trailers-only gRPC response ([`NativeGrpcError`]).
//! Gateway-made errors carry a `google.rpc.ErrorInfo` detail whose
//! `reason` is the stable error code.
//!
//! The client reads [`GrpcError::public_message`]: the backend's own
//! `grpc-message` for a status it sent, what was wrong for the client's
//! own mistakes, and a generic sentence for everything on the gateway's or
//! backend's side (no backend names, addresses or connection errors; those
//! stay in `Display` and go to the log).

use http::StatusCode;
use serde_json::{Value, json};

use super::framing::FramingError;
use super::status::{RpcStatus, StatusReadError, code, code_name, http_status_for};
use super::transcode::TranscodeError;
use crate::client_body::MALFORMED_MESSAGE;
use crate::client_body::RequestBodyFault;
use crate::edge_error::{ErrorFormat, GatewayError};
use crate::limits::BodyTooLarge;
use crate::upstream::UpstreamError;

/// What the client reads when the backend's answer is not usable gRPC.
pub const BAD_RESPONSE_MESSAGE: &str = "the upstream service sent an invalid response";

#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    /// The client's JSON could not become the request message.
    #[error(transparent)]
    Transcode(#[from] TranscodeError),
    /// The request is not something this route accepts.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error(transparent)]
    BodyTooLarge(#[from] BodyTooLarge),
    /// The client's body was malformed or cut short.
    #[error("reading the request body failed")]
    ClientBody,
    /// The backend answered with a non-OK status.
    #[error("{}", .0.message)]
    Status(RpcStatus),
    #[error(transparent)]
    StatusUnreadable(#[from] StatusReadError),
    #[error("the backend's response is not valid gRPC: {0}")]
    BadResponse(String),
    #[error("the backend's message framing is broken: {0}")]
    Framing(#[from] FramingError),
    #[error(transparent)]
    Upstream(UpstreamError),
    /// The gateway is draining: the last word of a long-lived stream.
    #[error("the gateway is shutting down; reconnect to continue")]
    ShuttingDown,
}

impl GrpcError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        GrpcError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// The gRPC code this error stands for.
    pub fn grpc_code(&self) -> i32 {
        match self {
            GrpcError::Transcode(TranscodeError::UndecodableResponse { .. }) => code::INTERNAL,
            GrpcError::Transcode(_) | GrpcError::BadRequest { .. } => code::INVALID_ARGUMENT,
            GrpcError::BodyTooLarge(_) => code::RESOURCE_EXHAUSTED,
            GrpcError::ClientBody => code::INVALID_ARGUMENT,
            GrpcError::Status(status) => status.code,
            GrpcError::StatusUnreadable(_) | GrpcError::BadResponse(_) | GrpcError::Framing(_) => {
                code::UNKNOWN
            }
            GrpcError::Upstream(UpstreamError::Timeout { .. }) => code::DEADLINE_EXCEEDED,
            GrpcError::Upstream(_) | GrpcError::ShuttingDown => code::UNAVAILABLE,
        }
    }

    /// The HTTP status on a transcoded route.
    pub fn http_status(&self) -> StatusCode {
        match self {
            GrpcError::Transcode(TranscodeError::UndecodableResponse { .. })
            | GrpcError::StatusUnreadable(_)
            | GrpcError::BadResponse(_)
            | GrpcError::Framing(_) => StatusCode::BAD_GATEWAY,
            GrpcError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            GrpcError::ClientBody => StatusCode::BAD_REQUEST,
            GrpcError::Upstream(UpstreamError::Unavailable { .. }) => StatusCode::BAD_GATEWAY,
            GrpcError::Upstream(UpstreamError::CircuitOpen { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            other => http_status_for(other.grpc_code()),
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            GrpcError::Transcode(error) => error.code(),
            GrpcError::BadRequest { code, .. } => code,
            GrpcError::BodyTooLarge(_) => "BODY_TOO_LARGE",
            GrpcError::ClientBody => "BAD_REQUEST_BODY",
            GrpcError::Status(status) => code_name(status.code),
            GrpcError::StatusUnreadable(StatusReadError::Missing) => "GRPC_STATUS_MISSING",
            GrpcError::StatusUnreadable(StatusReadError::Malformed(_)) => "GRPC_STATUS_MALFORMED",
            GrpcError::BadResponse(_) | GrpcError::Framing(_) => "BAD_GRPC_RESPONSE",
            GrpcError::Upstream(UpstreamError::Timeout { .. }) => "UPSTREAM_TIMEOUT",
            GrpcError::Upstream(UpstreamError::CircuitOpen { .. }) => "CIRCUIT_OPEN",
            GrpcError::Upstream(_) => "UPSTREAM_UNAVAILABLE",
            GrpcError::ShuttingDown => "SHUTTING_DOWN",
        }
    }

    /// What the client reads (see the module doc).
    pub fn public_message(&self) -> String {
        match self {
            GrpcError::Upstream(error) => error.public_message(),
            GrpcError::ClientBody => MALFORMED_MESSAGE.to_owned(),
            GrpcError::Transcode(TranscodeError::UndecodableResponse { .. })
            | GrpcError::StatusUnreadable(_)
            | GrpcError::BadResponse(_)
            | GrpcError::Framing(_) => BAD_RESPONSE_MESSAGE.to_owned(),
            other => other.to_string(),
        }
    }

    /// Whether the public message hides a detail that must be logged.
    pub fn hides_detail(&self) -> bool {
        matches!(
            self,
            GrpcError::Upstream(_)
                | GrpcError::Transcode(TranscodeError::UndecodableResponse { .. })
                | GrpcError::StatusUnreadable(_)
                | GrpcError::BadResponse(_)
                | GrpcError::Framing(_)
        )
    }

    /// Logs an error that ends a stream (those never reach the rescue
    /// layer): what the client did not see goes to the log.
    pub fn log_stream_end(&self) {
        if self.hides_detail() {
            tracing::warn!(error = %self, "gRPC call ended with an error");
        } else {
            tracing::debug!(error = %self, "gRPC call ended with an error");
        }
    }

    /// `google.rpc.Status.details`: the backend's own, or an ErrorInfo.
    pub fn details(&self) -> Vec<Value> {
        match self {
            GrpcError::Status(status) => status.details.clone(),
            other => vec![json!({
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": other.code(),
                "domain": "gateway",
            })],
        }
    }

    /// The JSON `google.rpc.Status` body (also the final NDJSON/SSE error).
    pub fn to_status_json(&self) -> Value {
        json!({"code": self.grpc_code(), "message": self.public_message(), "details": self.details()})
    }
}

/// An upstream failure; a request body that failed while being sent (over
/// its limit, malformed) is the client's 413 / 400, not the backend's.
impl From<UpstreamError> for GrpcError {
    fn from(error: UpstreamError) -> Self {
        match error {
            UpstreamError::ClientBody(RequestBodyFault::TooLarge(too_large)) => {
                GrpcError::BodyTooLarge(too_large)
            }
            UpstreamError::ClientBody(RequestBodyFault::Malformed) => GrpcError::ClientBody,
            other => GrpcError::Upstream(other),
        }
    }
}

impl From<GrpcError> for GatewayError {
    fn from(error: GrpcError) -> Self {
        let format = ErrorFormat::RpcStatus {
            grpc_code: error.grpc_code(),
            details: error.details(),
        };
        let mut rendered =
            GatewayError::new(error.http_status(), error.code(), error.public_message())
                .with_format(format);
        if let GrpcError::Upstream(upstream) = &error
            && let Some(seconds) = upstream.retry_after()
        {
            rendered = rendered.with_header(http::header::RETRY_AFTER, seconds);
        }
        rendered.with_source(error)
    }
}

/// A [`GrpcError`] on a native gRPC route: a trailers-only response.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct NativeGrpcError(#[from] pub GrpcError);

impl From<NativeGrpcError> for GatewayError {
    fn from(NativeGrpcError(error): NativeGrpcError) -> Self {
        let format = ErrorFormat::Grpc {
            grpc_code: error.grpc_code(),
        };
        GatewayError::new(StatusCode::OK, error.code(), error.public_message())
            .with_format(format)
            .with_source(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::status::RpcStatus;

    fn down() -> UpstreamError {
        UpstreamError::Unavailable {
            backend: "orders-grpc".into(),
            reason: "tcp connect error: Connection refused (os error 111)".into(),
            source: None,
        }
    }

    #[test]
    fn failures_on_the_backends_side_read_generic() {
        for error in [
            GrpcError::Upstream(down()),
            GrpcError::BadResponse("the response stream broke: hyper::Error(Io)".into()),
        ] {
            let public = error.public_message();
            assert!(
                !public.contains("orders-grpc") && !public.contains("os error"),
                "{public}"
            );
            let rendered = GatewayError::from(NativeGrpcError(error));
            assert_eq!(rendered.message, public);
            assert!(
                rendered.detail().contains("orders-grpc") || rendered.detail().contains("hyper")
            );
        }
    }

    #[test]
    fn a_backends_own_status_message_and_client_body_faults_pass_as_they_are() {
        let status = GrpcError::Status(RpcStatus {
            code: 5,
            message: "order x not found".into(),
            details: vec![],
        });
        assert_eq!(status.public_message(), "order x not found");
        let body = GrpcError::from(UpstreamError::ClientBody(RequestBodyFault::Malformed));
        assert_eq!(body.code(), "BAD_REQUEST_BODY");
        assert_eq!(body.http_status(), StatusCode::BAD_REQUEST);
        assert_eq!(body.grpc_code(), code::INVALID_ARGUMENT);
    }
}
