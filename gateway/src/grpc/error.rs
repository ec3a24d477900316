//! The bridge's errors, and how each looks to the client.
//!
//! A [`GrpcError`] becomes a [`GatewayError`] in one of two wire forms:
//! on transcoded routes the JSON `google.rpc.Status` (`From<GrpcError>`),
//! on passthrough routes a trailers-only gRPC response ([`NativeGrpcError`]).
//! Gateway-made errors carry a `google.rpc.ErrorInfo` detail whose
//! `reason` is the stable error code.

use http::StatusCode;
use serde_json::{Value, json};

use super::framing::FramingError;
use super::status::{RpcStatus, StatusReadError, code, code_name, http_status_for};
use super::transcode::TranscodeError;
use crate::edge_error::{ErrorFormat, GatewayError};
use crate::limits::BodyTooLarge;
use crate::upstream::UpstreamError;

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
    #[error("reading the request body failed: {0}")]
    ClientBody(String),
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
    Upstream(#[from] UpstreamError),
    #[error("backend {0:?} has no pool in this snapshot")]
    NoPool(String),
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
            GrpcError::ClientBody(_) => code::CANCELLED,
            GrpcError::Status(status) => status.code,
            GrpcError::StatusUnreadable(_) | GrpcError::BadResponse(_) | GrpcError::Framing(_) => {
                code::UNKNOWN
            }
            GrpcError::Upstream(UpstreamError::Timeout { .. }) => code::DEADLINE_EXCEEDED,
            GrpcError::Upstream(_) | GrpcError::NoPool(_) | GrpcError::ShuttingDown => {
                code::UNAVAILABLE
            }
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
            GrpcError::ClientBody(_) => StatusCode::BAD_REQUEST,
            GrpcError::Upstream(UpstreamError::Unavailable { .. }) => StatusCode::BAD_GATEWAY,
            other => http_status_for(other.grpc_code()),
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            GrpcError::Transcode(error) => error.code(),
            GrpcError::BadRequest { code, .. } => code,
            GrpcError::BodyTooLarge(_) => "BODY_TOO_LARGE",
            GrpcError::ClientBody(_) => "CLIENT_BODY_ERROR",
            GrpcError::Status(status) => code_name(status.code),
            GrpcError::StatusUnreadable(StatusReadError::Missing) => "GRPC_STATUS_MISSING",
            GrpcError::StatusUnreadable(StatusReadError::Malformed(_)) => "GRPC_STATUS_MALFORMED",
            GrpcError::BadResponse(_) | GrpcError::Framing(_) => "BAD_GRPC_RESPONSE",
            GrpcError::Upstream(UpstreamError::Timeout { .. }) => "UPSTREAM_TIMEOUT",
            GrpcError::Upstream(_) => "UPSTREAM_UNAVAILABLE",
            GrpcError::NoPool(_) => "BACKEND_MISSING",
            GrpcError::ShuttingDown => "SHUTTING_DOWN",
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
        json!({"code": self.grpc_code(), "message": self.to_string(), "details": self.details()})
    }
}

impl From<GrpcError> for GatewayError {
    fn from(error: GrpcError) -> Self {
        let format = ErrorFormat::RpcStatus {
            grpc_code: error.grpc_code(),
            details: error.details(),
        };
        GatewayError::new(error.http_status(), error.code(), error.to_string())
            .with_format(format)
            .with_source(error)
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
        GatewayError::new(StatusCode::OK, error.code(), error.to_string())
            .with_format(format)
            .with_source(error)
    }
}
