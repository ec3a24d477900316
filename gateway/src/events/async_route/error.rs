//! Why an async route refused a request or a status read, and how that
//! looks to the client. Store failures keep their cause for the log; the
//! client reads a stable code and a generic message.

use http::StatusCode;

use crate::client_body::RequestBodyFault;
use crate::edge_error::GatewayError;
use crate::events::store::StoreError;

/// Longest accepted `Idempotency-Key`, in bytes.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

#[derive(Debug, thiserror::Error)]
pub enum AsyncError {
    /// The store did not take the request (or could not be read).
    #[error("the event store failed: {0}")]
    Store(#[source] StoreError),
    /// The client's body was over the bound or broken.
    #[error("{0}")]
    Body(RequestBodyFault),
    #[error("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters")]
    BadIdempotencyKey,
    /// The key was used before for a different request.
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyKeyReused,
    /// The order key template could not be rendered for this request.
    #[error("the request has no value for the route's order key: {0}")]
    OrderKey(String),
    #[error("no async request with this id (unknown, or its result expired)")]
    NotFound,
    /// Every delivery attempt failed; the request is a dead letter.
    #[error(
        "the request was not delivered after {attempts} attempts; it is in the dead-letter queue"
    )]
    DeadLettered { attempts: u32 },
}

impl From<AsyncError> for GatewayError {
    fn from(error: AsyncError) -> Self {
        let (status, code) = match &error {
            AsyncError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "EVENT_STORE_UNAVAILABLE"),
            AsyncError::Body(fault) => (fault.status(), fault.code()),
            AsyncError::BadIdempotencyKey => (StatusCode::BAD_REQUEST, "INVALID_IDEMPOTENCY_KEY"),
            AsyncError::IdempotencyKeyReused => {
                (StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_REUSED")
            }
            AsyncError::OrderKey(_) => (StatusCode::BAD_REQUEST, "MISSING_ORDER_KEY"),
            AsyncError::NotFound => (StatusCode::NOT_FOUND, "ASYNC_REQUEST_NOT_FOUND"),
            AsyncError::DeadLettered { .. } => (StatusCode::BAD_GATEWAY, "ASYNC_REQUEST_FAILED"),
        };
        match error {
            AsyncError::Store(source) => {
                GatewayError::new(status, code, "the request could not be stored; retry later")
                    .with_header(
                        http::header::RETRY_AFTER,
                        http::HeaderValue::from_static("1"),
                    )
                    .with_source(source)
            }
            other => GatewayError::new(status, code, other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_failures_keep_their_cause_out_of_the_message() {
        let error = GatewayError::from(AsyncError::Store(StoreError::Unavailable(
            "connect 10.0.0.7:4222: refused".into(),
        )));
        assert_eq!(error.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.code, "EVENT_STORE_UNAVAILABLE");
        assert!(!error.message.contains("10.0.0.7"));
        assert!(error.detail().contains("10.0.0.7"));
    }

    #[test]
    fn client_faults_keep_the_proxy_codes() {
        let error = GatewayError::from(AsyncError::Body(RequestBodyFault::Malformed));
        assert_eq!(error.code, "BAD_REQUEST_BODY");
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
    }
}
