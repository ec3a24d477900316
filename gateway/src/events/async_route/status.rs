//! `GET /v1/requests/{id}`: where an async request is. Pending: 202 with a
//! JSON status document (and `Retry-After`). Completed: the backend's own
//! status, headers and body, until `result_ttl` passes. Dead-lettered: 502
//! `ASYNC_REQUEST_FAILED`. Unknown, expired or never stored: 404.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER};
use http::{HeaderValue, Response, StatusCode};

use super::error::AsyncError;
use super::record::{RequestRecord, RequestState, StoredResponse, decode_headers};
use super::{REQUESTS_BUCKET, STATUS_PATH};
use crate::body::GatewayBody;
use crate::events::store::{SharedStore, StoreError};

/// Set on a completed request's response when its body was over the
/// bound and not kept.
pub static BODY_OMITTED: http::HeaderName =
    http::HeaderName::from_static("x-gateway-async-body-omitted");

/// Answers a status read.
pub async fn read_status(
    store: &SharedStore,
    id: &str,
) -> Result<Response<GatewayBody>, AsyncError> {
    // Ids are UUIDs: anything else names nothing and never reaches the store.
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(AsyncError::NotFound);
    }
    let bytes = store
        .kv_get(REQUESTS_BUCKET, id)
        .await
        .map_err(AsyncError::Store)?
        .ok_or(AsyncError::NotFound)?;
    let record = RequestRecord::decode(&bytes)
        .map_err(|e| AsyncError::Store(StoreError::Failed(format!("status record {id}: {e}"))))?;
    if record.is_expired(SystemTime::now()) {
        return Err(AsyncError::NotFound);
    }
    match record.state {
        RequestState::Pending => Ok(pending(&record)),
        RequestState::Completed => match &record.response {
            Some(stored) => completed(stored),
            None => Err(AsyncError::Store(StoreError::Failed(format!(
                "completed record {id} has no response"
            )))),
        },
        RequestState::DeadLettered => Err(AsyncError::DeadLettered {
            attempts: record.attempts,
        }),
        RequestState::NotAccepted => Err(AsyncError::NotFound),
    }
}

fn pending(record: &RequestRecord) -> Response<GatewayBody> {
    let mut document = serde_json::json!({
        "id": record.id,
        "status": "pending",
        "attempts": record.attempts,
        "submitted_at": rfc3339(record.submitted_at_ms),
        "updated_at": rfc3339(record.updated_at_ms),
    });
    if let (Some(error), Some(object)) = (&record.last_error, document.as_object_mut()) {
        object.insert("last_error".to_owned(), error.clone().into());
    }
    let mut response = Response::new(crate::body::full(document.to_string()));
    *response.status_mut() = StatusCode::ACCEPTED;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
    if let Ok(location) = HeaderValue::from_str(&format!("{STATUS_PATH}/{}", record.id)) {
        headers.insert(LOCATION, location);
    }
    response
}

fn completed(stored: &StoredResponse) -> Result<Response<GatewayBody>, AsyncError> {
    let broken = |reason: String| AsyncError::Store(StoreError::Failed(reason));
    let body = base64_body(&stored.body).map_err(broken)?;
    let mut response = Response::new(crate::body::full(body));
    *response.status_mut() =
        StatusCode::from_u16(stored.status).map_err(|e| broken(format!("stored status: {e}")))?;
    let mut headers = decode_headers(&stored.headers).map_err(broken)?;
    // The body is whole now: its stored framing no longer applies.
    headers.remove(http::header::CONTENT_LENGTH);
    headers.remove(http::header::TRANSFER_ENCODING);
    if stored.body_omitted {
        headers.insert(BODY_OMITTED.clone(), HeaderValue::from_static("true"));
    }
    *response.headers_mut() = headers;
    Ok(response)
}

fn base64_body(text: &str) -> Result<bytes::Bytes, String> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map(bytes::Bytes::from)
        .map_err(|e| format!("stored response body: {e}"))
}

fn rfc3339(unix_ms: u64) -> String {
    let time = UNIX_EPOCH + Duration::from_millis(unix_ms);
    chrono::DateTime::<chrono::Utc>::from(time).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_completed_record_answers_as_the_backend_did() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-order", HeaderValue::from_static("7"));
        headers.insert(
            http::header::CONTENT_LENGTH,
            HeaderValue::from_static("999"),
        );
        let stored = StoredResponse::new(201, &headers, Some(b"{\"id\":7}"));
        let response = completed(&stored).unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["x-order"], "7");
        assert!(
            response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .is_none()
        );
    }

    #[test]
    fn a_pending_record_says_so_with_its_location() {
        let record = RequestRecord::pending("abc", "r", UNIX_EPOCH + Duration::from_secs(5));
        let response = pending(&record);
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert_eq!(response.headers()[LOCATION], "/v1/requests/abc");
        assert_eq!(rfc3339(5_000), "1970-01-01T00:00:05.000Z");
    }
}
