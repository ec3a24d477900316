//! CloudEvents 1.0, JSON format: the envelope every stored event has.
//!
//! The seed's envelope maps onto it: `event_id` → `id`, `event_type` →
//! `type`, `occurred_at` → `time`, `payload` → `data`; `source` names the
//! producer and `subject` the entity (the order id). Binary data (bytes
//! that are neither JSON nor UTF-8 text) is `data_base64`, as the JSON
//! format carries it. Trace context rides
//! in the `traceparent` extension (CloudEvents distributed-tracing
//! extension), from publisher to subscriber.

mod json;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The only `specversion` accepted.
pub const SPEC_VERSION: &str = "1.0";

/// One event, as stored and as delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    pub specversion: String,
    /// Unique per source; a repeated `(source, id)` is a duplicate.
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datacontenttype: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// Binary data (any media type that is neither JSON nor UTF-8 text),
    /// Base64-encoded as the JSON format carries it (RFC 4648, padded);
    /// never set together with `data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
    /// Extension attributes (`traceparent`, `tracestate`, ...): lower-case
    /// alphanumeric names, string values.
    #[serde(flatten)]
    pub extensions: BTreeMap<String, serde_json::Value>,
}

impl CloudEvent {
    /// The decoded bytes of binary data (`None` without `data_base64`, or
    /// if it does not decode, which publishing refuses).
    pub fn binary_data(&self) -> Option<Vec<u8>> {
        use base64::Engine as _;
        let text = self.data_base64.as_deref()?;
        base64::engine::general_purpose::STANDARD.decode(text).ok()
    }
}

/// `application/json`, `text/json` or any `+json` type: a `datacontenttype`
/// whose `data` is JSON (any other type's `data` is its text, a string).
pub fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
}
