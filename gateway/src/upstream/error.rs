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
}

impl UpstreamError {
    /// The client-facing message: generic and stable.
    pub fn public_message(&self) -> String {
        match self {
            UpstreamError::Unavailable { .. } => UNAVAILABLE_MESSAGE.to_owned(),
            UpstreamError::Timeout { .. } => TIMEOUT_MESSAGE.to_owned(),
            UpstreamError::ClientBody(fault) => fault.message(),
        }
    }
}

impl From<UpstreamError> for GatewayError {
    fn from(error: UpstreamError) -> Self {
        let (status, code) = match &error {
            UpstreamError::Unavailable { .. } => (StatusCode::BAD_GATEWAY, "UPSTREAM_UNAVAILABLE"),
            UpstreamError::Timeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "UPSTREAM_TIMEOUT"),
            UpstreamError::ClientBody(fault) => (fault.status(), fault.code()),
        };
        GatewayError::new(status, code, error.public_message()).with_source(error)
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
