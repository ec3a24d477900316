//! A CloudEvent in the HTTP binding's **binary** content mode: its
//! attributes in `ce-*` headers, its `data` as the body, its
//! `datacontenttype` the `Content-Type` (CloudEvents HTTP Protocol Binding
//! 1.0.2, §3.1), as the CloudEvents SDKs' HTTP emitters send it by
//! default. Data of any media type is accepted: JSON and UTF-8 text are
//! stored as `data`, other bytes as `data_base64`. Pure: the head's
//! headers and the body in, the same [`CloudEvent`] the structured mode
//! gives out, checked by the same rules (`parse::structured_event`).
//!
//! A request is in binary mode when it carries `ce-specversion` and its
//! `Content-Type` is not a CloudEvents format (`application/cloudevents…`).

use http::HeaderMap;
use http::header::CONTENT_TYPE;
use serde_json::Value;

use super::parse::{EventShapeError, Members, structured_event};
use crate::events::cloud_event::{CloudEvent, is_json_media_type};

/// The header every binary-mode event carries.
pub const SPECVERSION_HEADER: &str = "ce-specversion";

/// Whether `headers` carry a binary-mode event.
pub fn is_binary(headers: &HeaderMap) -> bool {
    headers.contains_key(SPECVERSION_HEADER)
}

/// The event of a binary-mode request: attributes from `ce-*` headers
/// (each percent-decoded once, quoted strings unescaped first), the body
/// as `data`: JSON for a JSON `Content-Type` (or none), text for a UTF-8
/// `text/*` one, and any other bytes as `data_base64` (the JSON format's
/// binary data), so every media type is carried as it came.
pub fn binary_event(headers: &HeaderMap, body: &[u8]) -> Result<CloudEvent, EventShapeError> {
    let mut fields = Members::default();
    for (name, value) in headers {
        let Some(attribute) = name.as_str().strip_prefix("ce-") else {
            continue;
        };
        if attribute == "datacontenttype" {
            return Err(bad(
                "`ce-datacontenttype` must not be sent in binary mode: the Content-Type is the data's type",
            ));
        }
        let text = header_text(value.as_bytes()).ok_or_else(|| {
            bad(&format!(
                "the `ce-{attribute}` header is not valid percent-encoded UTF-8"
            ))
        })?;
        if fields.insert(attribute, Value::String(text)).is_some() {
            return Err(bad(&format!("the `ce-{attribute}` header is sent twice")));
        }
    }
    let content_type = headers
        .get(CONTENT_TYPE)
        .map(|value| {
            value
                .to_str()
                .map(str::to_owned)
                .map_err(|_| bad("the Content-Type is not ASCII"))
        })
        .transpose()?;
    match data_of(content_type.as_deref(), body)? {
        Some(Data::Value(data)) => _ = fields.insert("data", data),
        Some(Data::Binary(encoded)) => {
            _ = fields.insert("data_base64", Value::String(encoded));
        }
        None => {}
    }
    if let Some(content_type) = content_type {
        fields.insert("datacontenttype", Value::String(content_type));
    }
    structured_event(fields)
}

/// A binary-mode body as the event carries it.
enum Data {
    /// JSON, or text as a JSON string (`data`).
    Value(Value),
    /// Any other bytes, Base64-encoded (`data_base64`).
    Binary(String),
}

/// The body as data: none when empty, JSON for a JSON media type (or
/// none given), text for `text/*` in UTF-8, Base64 for anything else.
fn data_of(content_type: Option<&str>, body: &[u8]) -> Result<Option<Data>, EventShapeError> {
    use base64::Engine as _;
    if body.is_empty() {
        return Ok(None);
    }
    let is_text = |media: &str| media.trim_start().to_ascii_lowercase().starts_with("text/");
    let text = match content_type {
        None => return json_data(body),
        Some(media) if is_json_media_type(media) => return json_data(body),
        Some(media) if is_text(media) => std::str::from_utf8(body).ok(),
        Some(_) => None,
    };
    Ok(Some(match text {
        Some(text) => Data::Value(Value::String(text.to_owned())),
        // Another charset, or not text at all: the bytes as they are.
        None => Data::Binary(base64::engine::general_purpose::STANDARD.encode(body)),
    }))
}

fn json_data(body: &[u8]) -> Result<Option<Data>, EventShapeError> {
    serde_json::from_slice(body)
        .map(|value| Some(Data::Value(value)))
        .map_err(|error| EventShapeError::NotJson(error.to_string()))
}

/// A `ce-*` header's attribute value: a quoted string unescaped, then one
/// round of percent-decoding; `None` if the result is not UTF-8 (which
/// refuses overlong encodings such as `%C0%A0`).
fn header_text(raw: &[u8]) -> Option<String> {
    let unquoted = match raw {
        [b'"', inner @ .., b'"'] => {
            let mut out = Vec::with_capacity(inner.len());
            let mut bytes = inner.iter();
            while let Some(&byte) = bytes.next() {
                out.push(if byte == b'\\' { *bytes.next()? } else { byte });
            }
            out
        }
        other => other.to_vec(),
    };
    let decoded: Vec<u8> = percent_encoding::percent_decode(&unquoted).collect();
    String::from_utf8(decoded).ok()
}

fn bad(message: &str) -> EventShapeError {
    EventShapeError::BadCloudEvent(message.to_owned())
}

#[cfg(test)]
mod tests;
