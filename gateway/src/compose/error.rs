//! How a call fails, and how a failed composition looks to the client.
//!
//! A [`CallFailure`] is data (it is cached by the coalescer and listed in
//! `_meta.errors`), so it is `Clone` and carries a stable code. A
//! [`ComposeError`] is what ends a composition: a required call failed, or
//! the deadline passed with required calls outstanding. Its conversion into
//! [`GatewayError`] picks the status: the primary call's 404 is the
//! client's 404, its other 4xx are passed on, a timeout is 504, and every
//! other upstream problem is 502.
//!
//! Messages name the route's own calls (`_meta.errors[].call`, part of the
//! route's contract) but never a backend's name, address or connection
//! error: those are logged.

use http::StatusCode;
use serde_json::{Value, json};

use crate::edge_error::GatewayError;
use crate::upstream::UpstreamError;

/// Why one call produced no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The call's own timeout passed.
    Timeout,
    /// The backend could not be reached.
    Unavailable,
    /// The backend answered with a non-2xx status.
    Status(StatusCode),
    /// The backend's answer was not the JSON we expected (or, for GraphQL,
    /// carried `errors`).
    BadResponse,
    /// An input (path, header, body) read a value that was missing.
    MissingInput,
    /// The rendered input does not fit the call (a gRPC request message
    /// that does not match its type).
    BadInput,
    /// A call this one reads failed.
    Dependency,
    /// The route's deadline passed first.
    Deadline,
}

/// One call's failure, as listed in `_meta.errors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFailure {
    pub kind: FailureKind,
    /// Stable, SCREAMING_SNAKE_CASE.
    pub code: &'static str,
    pub message: String,
}

impl CallFailure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        let code = match kind {
            FailureKind::Timeout => "UPSTREAM_TIMEOUT",
            FailureKind::Unavailable => "UPSTREAM_UNAVAILABLE",
            FailureKind::Status(StatusCode::NOT_FOUND) => "UPSTREAM_NOT_FOUND",
            FailureKind::Status(_) => "UPSTREAM_BAD_STATUS",
            FailureKind::BadResponse => "UPSTREAM_BAD_RESPONSE",
            FailureKind::MissingInput => "COMPOSE_MISSING_INPUT",
            FailureKind::BadInput => "COMPOSE_BAD_INPUT",
            FailureKind::Dependency => "COMPOSE_DEPENDENCY_FAILED",
            FailureKind::Deadline => "COMPOSE_DEADLINE_EXCEEDED",
        };
        Self {
            kind,
            code,
            message: message.into(),
        }
    }

    /// A GraphQL response with `errors`: a bad response with its own code.
    pub fn graphql(message: impl Into<String>) -> Self {
        Self {
            code: "UPSTREAM_GRAPHQL_ERRORS",
            ..Self::new(FailureKind::BadResponse, message)
        }
    }

    /// The upstream status, when there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self.kind {
            FailureKind::Status(status) => Some(status),
            _ => None,
        }
    }

    /// The `_meta.errors` entry.
    pub fn to_meta(&self, call: &str) -> Value {
        json!({
            "call": call,
            "code": self.code,
            "status": self.status().map(|status| status.as_u16()),
            "message": self.message,
        })
    }
}

/// The client reads the generic message; the backend and the connection
/// error go to the log.
impl From<UpstreamError> for CallFailure {
    fn from(error: UpstreamError) -> Self {
        let kind = match &error {
            UpstreamError::Timeout { .. } => FailureKind::Timeout,
            UpstreamError::Unavailable { .. } | UpstreamError::CircuitOpen { .. } => {
                FailureKind::Unavailable
            }
            // Calls send bodies the gateway built whole: cannot happen.
            UpstreamError::ClientBody(_) => FailureKind::BadInput,
        };
        tracing::warn!(error = %error, "composition call failed");
        Self::new(kind, error.public_message())
    }
}

/// Why a composition gave no response.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// A required call failed.
    #[error("required call \"{call}\" failed: {}", failure.message)]
    Required {
        call: String,
        primary: bool,
        failure: CallFailure,
    },
    /// The route's deadline passed while required calls were outstanding.
    #[error("the route's deadline of {deadline_ms} ms passed while {} were outstanding", outstanding.join(", "))]
    Deadline {
        deadline_ms: u128,
        outstanding: Vec<String>,
    },
}

impl From<ComposeError> for GatewayError {
    fn from(error: ComposeError) -> Self {
        let (status, code) = match &error {
            ComposeError::Required {
                primary, failure, ..
            } => required_status(*primary, failure),
            ComposeError::Deadline { .. } => {
                (StatusCode::GATEWAY_TIMEOUT, "COMPOSE_DEADLINE_EXCEEDED")
            }
        };
        let message = error.to_string();
        GatewayError::new(status, code, message).with_source(error)
    }
}

/// The client's status for a failed required call.
fn required_status(primary: bool, failure: &CallFailure) -> (StatusCode, &'static str) {
    match failure.kind {
        FailureKind::Status(StatusCode::NOT_FOUND) if primary => {
            (StatusCode::NOT_FOUND, "NOT_FOUND")
        }
        FailureKind::Status(status) if primary && passes_through(status) => {
            (status, "UPSTREAM_REJECTED")
        }
        FailureKind::Status(status @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)) => {
            (status, "UPSTREAM_REJECTED")
        }
        FailureKind::Timeout | FailureKind::Deadline => (StatusCode::GATEWAY_TIMEOUT, failure.code),
        _ => (StatusCode::BAD_GATEWAY, failure.code),
    }
}

/// Client errors of the primary call that are the client's own fault.
fn passes_through(status: StatusCode) -> bool {
    status.is_client_error()
        && status != StatusCode::REQUEST_TIMEOUT
        && status != StatusCode::TOO_MANY_REQUESTS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(primary: bool, kind: FailureKind) -> (StatusCode, &'static str) {
        let error = ComposeError::Required {
            call: "x".into(),
            primary,
            failure: CallFailure::new(kind, "m"),
        };
        let gateway = GatewayError::from(error);
        (gateway.status, gateway.code)
    }

    #[test]
    fn primary_not_found_is_the_clients_404() {
        assert_eq!(
            status_of(true, FailureKind::Status(StatusCode::NOT_FOUND)),
            (StatusCode::NOT_FOUND, "NOT_FOUND")
        );
        assert_eq!(
            status_of(true, FailureKind::Status(StatusCode::BAD_REQUEST)).0,
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn secondary_not_found_is_a_bad_gateway() {
        assert_eq!(
            status_of(false, FailureKind::Status(StatusCode::NOT_FOUND)),
            (StatusCode::BAD_GATEWAY, "UPSTREAM_NOT_FOUND")
        );
        assert_eq!(
            status_of(true, FailureKind::Status(StatusCode::SERVICE_UNAVAILABLE)).0,
            StatusCode::BAD_GATEWAY
        );
    }

    #[test]
    fn timeouts_are_gateway_timeouts() {
        assert_eq!(
            status_of(false, FailureKind::Timeout),
            (StatusCode::GATEWAY_TIMEOUT, "UPSTREAM_TIMEOUT")
        );
        assert_eq!(
            status_of(false, FailureKind::Unavailable),
            (StatusCode::BAD_GATEWAY, "UPSTREAM_UNAVAILABLE")
        );
    }

    #[test]
    fn meta_entries_name_call_code_status_and_message() {
        let failure =
            CallFailure::new(FailureKind::Status(StatusCode::SERVICE_UNAVAILABLE), "down");
        assert_eq!(
            failure.to_meta("payment"),
            json!({"call": "payment", "code": "UPSTREAM_BAD_STATUS", "status": 503, "message": "down"})
        );
    }
}
