//! A CloudEvent in the HTTP binding's **binary** content mode: its
//! attributes in `ce-*` headers, its `data` as the body, its
//! `datacontenttype` the `Content-Type` (CloudEvents HTTP Protocol Binding
//! 1.0.2, §3.1), as the CloudEvents SDKs' HTTP emitters send it by
//! default. Pure: the head's headers and the body in, the same
//! [`CloudEvent`] the structured mode gives out, checked by the same rules
//! (`parse::structured_event`).
//!
//! A request is in binary mode when it carries `ce-specversion` and its
//! `Content-Type` is not a CloudEvents format (`application/cloudevents…`).

use http::HeaderMap;
use http::header::CONTENT_TYPE;
use serde_json::{Map, Value};

use super::parse::{EventShapeError, structured_event};
use crate::events::cloud_event::{CloudEvent, is_json_media_type};

/// The header every binary-mode event carries.
pub const SPECVERSION_HEADER: &str = "ce-specversion";

/// Whether `headers` carry a binary-mode event.
pub fn is_binary(headers: &HeaderMap) -> bool {
    headers.contains_key(SPECVERSION_HEADER)
}

/// The event of a binary-mode request: attributes from `ce-*` headers
/// (each percent-decoded once, quoted strings unescaped first), `data`
/// from `body` as JSON for a JSON `Content-Type` (or none), as text for a
/// `text/*` one; other media types are refused, as `data_base64` is.
pub fn binary_event(headers: &HeaderMap, body: &[u8]) -> Result<CloudEvent, EventShapeError> {
    let mut fields = Map::new();
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
        if fields
            .insert(attribute.to_owned(), Value::String(text))
            .is_some()
        {
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
    if let Some(data) = data_of(content_type.as_deref(), body)? {
        fields.insert("data".to_owned(), data);
    }
    if let Some(content_type) = content_type {
        fields.insert("datacontenttype".to_owned(), Value::String(content_type));
    }
    structured_event(fields)
}

/// The body as `data`: none when empty, JSON for a JSON media type (or
/// none given), text for `text/*`.
fn data_of(content_type: Option<&str>, body: &[u8]) -> Result<Option<Value>, EventShapeError> {
    if body.is_empty() {
        return Ok(None);
    }
    match content_type {
        None => json_data(body),
        Some(media) if is_json_media_type(media) => json_data(body),
        Some(media) if media.trim_start().to_ascii_lowercase().starts_with("text/") => {
            let text = std::str::from_utf8(body).map_err(|_| bad("the text data is not UTF-8"))?;
            Ok(Some(Value::String(text.to_owned())))
        }
        Some(media) => Err(bad(&format!(
            "binary data ({media}) is not supported; send JSON or text"
        ))),
    }
}

fn json_data(body: &[u8]) -> Result<Option<Value>, EventShapeError> {
    serde_json::from_slice(body)
        .map(Some)
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
