//! What an async route stores: the request, queued as a CloudEvent on the
//! route's internal topic ([`QueuedRequest`]), and its status record in the
//! requests bucket ([`RequestRecord`]), which ends up holding the
//! backend's response ([`StoredResponse`]). Plain data, JSON-encoded;
//! bodies and header values that are not UTF-8 travel as base64.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::events::cloud_event::{CloudEvent, SPEC_VERSION};

/// The CloudEvents `type` of a queued request.
pub const QUEUED_REQUEST_TYPE: &str = "gateway.async.request";

/// A request as the worker sends it: the head the proxy would forward
/// (hop-by-hop headers gone, forwarding family, request id, the route's
/// header rules and trace context already set) and the whole body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedRequest {
    pub method: String,
    /// Origin form, after the route's rewrite: path and query.
    pub path_and_query: String,
    pub headers: Vec<HeaderEntry>,
    /// Base64.
    pub body: String,
    /// The route's path parameters, raw (the route's `emit:` templates
    /// read them once the backend has answered).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<(String, String)>,
}

/// One header line; `base64` when the value is not visible ASCII.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderEntry {
    pub name: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub base64: bool,
}

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Stored, not yet answered by the backend (waiting or retrying).
    Pending,
    /// The backend answered; the record holds its response.
    Completed,
    /// Every attempt failed; the request is in the dead-letter queue.
    DeadLettered,
    /// The store did not take the request (the client got 503).
    NotAccepted,
}

/// The status record behind `GET /v1/requests/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub id: String,
    pub route: String,
    pub state: RequestState,
    /// Milliseconds since the Unix epoch.
    pub submitted_at_ms: u64,
    pub updated_at_ms: u64,
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// Why the last attempt failed (for the log and the status document:
    /// the kind of failure, never a backend address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Finished records are readable until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<StoredResponse>,
}

/// The backend's answer, as the client will read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<HeaderEntry>,
    /// Base64; empty when the body was over the bound (`body_omitted`).
    pub body: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_omitted: bool,
}

impl RequestRecord {
    pub fn pending(id: &str, route: &str, now: SystemTime) -> Self {
        let now = unix_ms(now);
        Self {
            id: id.to_owned(),
            route: route.to_owned(),
            state: RequestState::Pending,
            submitted_at_ms: now,
            updated_at_ms: now,
            attempts: 0,
            last_error: None,
            expires_at_ms: None,
            response: None,
        }
    }

    /// The record in its final state, readable for `ttl` from `now`.
    pub fn finish(mut self, state: RequestState, now: SystemTime, ttl: Duration) -> Self {
        self.state = state;
        self.updated_at_ms = unix_ms(now);
        self.expires_at_ms = Some(unix_ms(now + ttl));
        self
    }

    /// Whether a finished record's `result_ttl` has passed.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires_at_ms.is_some_and(|at| unix_ms(now) >= at)
    }

    pub fn encode(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

impl QueuedRequest {
    pub fn new(
        method: &http::Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Self {
        Self {
            method: method.as_str().to_owned(),
            path_and_query: path_and_query.to_owned(),
            headers: encode_headers(headers),
            body: BASE64.encode(body),
            params: Vec::new(),
        }
    }

    /// The CloudEvent queued on the route's topic: `id` the request id,
    /// `subject` the order key.
    pub fn into_event(self, id: &str, source: &str, subject: Option<String>) -> CloudEvent {
        CloudEvent {
            specversion: SPEC_VERSION.to_owned(),
            id: id.to_owned(),
            source: source.to_owned(),
            event_type: QUEUED_REQUEST_TYPE.to_owned(),
            subject,
            time: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            datacontenttype: Some("application/json".to_owned()),
            data: serde_json::to_value(self).ok(),
            data_base64: None,
            extensions: Default::default(),
        }
    }

    pub fn from_event(event: &CloudEvent) -> Result<Self, String> {
        let data = event.data.clone().ok_or("the queued request has no data")?;
        serde_json::from_value(data).map_err(|e| format!("the queued request does not decode: {e}"))
    }

    pub fn body(&self) -> Result<Bytes, String> {
        decode_base64(&self.body)
    }

    pub fn header_map(&self) -> Result<HeaderMap, String> {
        decode_headers(&self.headers)
    }
}

impl StoredResponse {
    pub fn new(status: u16, headers: &HeaderMap, body: Option<&[u8]>) -> Self {
        Self {
            status,
            headers: encode_headers(headers),
            body: body.map(|b| BASE64.encode(b)).unwrap_or_default(),
            body_omitted: body.is_none(),
        }
    }
}

/// Header lines, in order, repeated names kept.
pub fn encode_headers(headers: &HeaderMap) -> Vec<HeaderEntry> {
    headers
        .iter()
        .map(|(name, value)| match value.to_str() {
            Ok(text) => HeaderEntry {
                name: name.as_str().to_owned(),
                value: text.to_owned(),
                base64: false,
            },
            Err(_) => HeaderEntry {
                name: name.as_str().to_owned(),
                value: BASE64.encode(value.as_bytes()),
                base64: true,
            },
        })
        .collect()
}

pub fn decode_headers(entries: &[HeaderEntry]) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::with_capacity(entries.len());
    for entry in entries {
        let name = HeaderName::try_from(entry.name.as_str())
            .map_err(|e| format!("stored header name {:?}: {e}", entry.name))?;
        let bytes = if entry.base64 {
            decode_base64(&entry.value)?
        } else {
            Bytes::copy_from_slice(entry.value.as_bytes())
        };
        let value = HeaderValue::from_maybe_shared(bytes)
            .map_err(|e| format!("stored header {:?}: {e}", entry.name))?;
        headers.append(name, value);
    }
    Ok(headers)
}

pub fn decode_base64(text: &str) -> Result<Bytes, String> {
    BASE64
        .decode(text)
        .map(Bytes::from)
        .map_err(|e| format!("stored body is not base64: {e}"))
}

pub fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_survives_the_event_round_trip() {
        let mut headers = HeaderMap::new();
        headers.append("x-a", HeaderValue::from_static("1"));
        headers.append("x-a", HeaderValue::from_static("2"));
        headers.append("x-bin", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        let request =
            QueuedRequest::new(&http::Method::POST, "/v1/orders?x=1", &headers, b"\x00body");
        let event = request
            .clone()
            .into_event("id-1", "/gateway/async/r", Some("k".into()));
        assert_eq!(event.event_type, QUEUED_REQUEST_TYPE);
        assert_eq!(event.subject.as_deref(), Some("k"));
        let back = QueuedRequest::from_event(&event).unwrap();
        assert_eq!(back, request);
        assert_eq!(back.header_map().unwrap(), headers);
        assert_eq!(back.body().unwrap(), Bytes::from_static(b"\x00body"));
    }

    #[test]
    fn a_finished_record_expires_after_its_ttl() {
        let start = UNIX_EPOCH + Duration::from_secs(1_000);
        let record = RequestRecord::pending("id", "r", start);
        assert!(!record.is_expired(start + Duration::from_secs(1_000_000)));
        let done = record.finish(RequestState::Completed, start, Duration::from_secs(60));
        assert!(!done.is_expired(start + Duration::from_secs(59)));
        assert!(done.is_expired(start + Duration::from_secs(60)));
        assert_eq!(RequestRecord::decode(&done.encode()).unwrap(), done);
    }

    #[test]
    fn undecodable_events_are_reported_not_panicked_on() {
        let mut event = QueuedRequest::new(&http::Method::GET, "/", &HeaderMap::new(), b"")
            .into_event("id", "s", None);
        event.data = Some(serde_json::json!({"method": 1}));
        assert!(QueuedRequest::from_event(&event).is_err());
        event.data = None;
        assert!(QueuedRequest::from_event(&event).is_err());
    }
}
