//! Why an upstream call failed, and how that looks to the client.

use std::time::Duration;

use http::StatusCode;

use crate::body::BoxError;
use crate::edge_error::GatewayError;

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
}

impl From<UpstreamError> for GatewayError {
    fn from(error: UpstreamError) -> Self {
        let (status, code) = match &error {
            UpstreamError::Unavailable { .. } => (StatusCode::BAD_GATEWAY, "UPSTREAM_UNAVAILABLE"),
            UpstreamError::Timeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "UPSTREAM_TIMEOUT"),
        };
        GatewayError::new(status, code, error.to_string()).with_source(error)
    }
}

/// Flattens an error chain into one line for messages and logs.
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
