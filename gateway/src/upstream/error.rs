//! Why an upstream call failed, and how that looks to the client.
//!
//! The client sees a generic, stable message and code; the backend's name,
//! its address and the connection error stay in this error's `Display` and
//! source chain, which go to the log with the request id (see
//! `layers::rescue`), never into the response.

use std::time::Duration;

use http::StatusCode;

use crate::body::BoxError;
use crate::client_body::RequestBodyFault;
use crate::edge_error::GatewayError;

/// What the client reads when a backend cannot be reached.
pub const UNAVAILABLE_MESSAGE: &str = "the upstream service is unavailable";
/// What the client reads when a backend's circuit breaker is open.
pub const CIRCUIT_OPEN_MESSAGE: &str =
    "the upstream service is failing; requests to it are paused, retry later";
/// What the client reads when a backend does not answer in time.
pub const TIMEOUT_MESSAGE: &str = "the upstream service did not respond in time";

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Connection refused or reset before any response.
    #[error("backend {backend:?} is unavailable: {reason}")]
    Unavailable {
        backend: String,
        reason: String,
        #[source]
        source: Option<BoxError>,
    },
    /// No response head within the deadline; the call was cancelled.
    #[error("backend {backend:?} did not respond within {after:?}")]
    Timeout { backend: String, after: Duration },
    /// The client's own body failed (bad framing, over its limit) while it
    /// was being sent: the client's fault, not the backend's.
    #[error("{0}")]
    ClientBody(RequestBodyFault),
    /// The backend's circuit breaker is open (or too many requests wait
    /// for it): failed fast, nothing sent.
    #[error("backend {backend:?}: circuit open, retry in {retry_after:?}")]
    CircuitOpen {
        backend: String,
        retry_after: Duration,
    },
}

impl UpstreamError {
    /// The client-facing message: generic and stable.
    pub fn public_message(&self) -> String {
        match self {
            UpstreamError::Unavailable { .. } => UNAVAILABLE_MESSAGE.to_owned(),
            UpstreamError::Timeout { .. } => TIMEOUT_MESSAGE.to_owned(),
            UpstreamError::ClientBody(fault) => fault.message(),
            UpstreamError::CircuitOpen { .. } => CIRCUIT_OPEN_MESSAGE.to_owned(),
        }
    }

    /// `Retry-After` for a failed-fast request: whole seconds, at least 1.
    pub fn retry_after(&self) -> Option<http::HeaderValue> {
        match self {
            UpstreamError::CircuitOpen { retry_after, .. } => {
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                Some(http::HeaderValue::from(seconds.max(1)))
            }
            _ => None,
        }
    }
}

impl From<UpstreamError> for GatewayError {
    fn from(error: UpstreamError) -> Self {
        let (status, code) = match &error {
            UpstreamError::Unavailable { .. } => (StatusCode::BAD_GATEWAY, "UPSTREAM_UNAVAILABLE"),
            UpstreamError::Timeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "UPSTREAM_TIMEOUT"),
            UpstreamError::ClientBody(fault) => (fault.status(), fault.code()),
            UpstreamError::CircuitOpen { .. } => (StatusCode::SERVICE_UNAVAILABLE, "CIRCUIT_OPEN"),
        };
        let retry_after = error.retry_after();
        let mut rendered = GatewayError::new(status, code, error.public_message());
        if let Some(seconds) = retry_after {
            rendered = rendered.with_header(http::header::RETRY_AFTER, seconds);
        }
        rendered.with_source(error)
    }
}

/// Flattens an error chain into one line for logs.
pub(crate) fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::BodyTooLarge;

    #[test]
    fn clients_read_generic_messages_and_the_log_reads_the_detail() {
        let refused = UpstreamError::Unavailable {
            backend: "users".into(),
            reason: "connection failed".into(),
            source: Some("tcp connect error: Connection refused (os error 111)".into()),
        };
        let error = GatewayError::from(refused);
        assert_eq!(error.status, StatusCode::BAD_GATEWAY);
        assert_eq!(error.message, UNAVAILABLE_MESSAGE);
        assert!(error.detail().contains("\"users\""), "{}", error.detail());
        assert!(
            error.detail().contains("os error 111"),
            "{}",
            error.detail()
        );
        let slow = UpstreamError::Timeout {
            backend: "users".into(),
            after: Duration::from_millis(100),
        };
        assert_eq!(GatewayError::from(slow).message, TIMEOUT_MESSAGE);
    }

    #[test]
    fn a_client_body_fault_is_the_clients_error() {
        let malformed = GatewayError::from(UpstreamError::ClientBody(RequestBodyFault::Malformed));
        assert_eq!(
            (malformed.status, malformed.code),
            (StatusCode::BAD_REQUEST, "BAD_REQUEST_BODY")
        );
        let too_large =
            UpstreamError::ClientBody(RequestBodyFault::TooLarge(BodyTooLarge { limit: 9 }));
        let too_large = GatewayError::from(too_large);
        assert_eq!(
            (too_large.status, too_large.code),
            (StatusCode::PAYLOAD_TOO_LARGE, "BODY_TOO_LARGE")
        );
    }
}
