//! A published body → one validated [`CloudEvent`]. Pure: no I/O.
//!
//! Three shapes are accepted:
//! - a structured CloudEvent (`application/cloudevents+json`): every
//!   required attribute (`specversion` 1.0, `id`, `source`, `type`);
//! - plain JSON with `type` and optional `id`, `source`, `subject`,
//!   `time`, `data` or `data_base64` (the gateway fills `id`, `source`,
//!   `specversion`);
//! - the seed's envelope: `event_id` → `id`, `event_type` → `type`,
//!   `occurred_at` → `time`, `payload` → `data` (`source`, `subject` kept).

use std::collections::BTreeMap;

pub mod members;

use serde_json::Value;

use crate::events::cloud_event::{CloudEvent, SPEC_VERSION};
pub use members::{Attribute, Element, Members};

/// Why a body is not an event; each has a stable code (see `publish.rs`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventShapeError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the event has no `type` (or `event_type`)")]
    MissingType,
    #[error("{0}")]
    BadCloudEvent(String),
}

/// Parses `body`. `structured` is true for `application/cloudevents+json`.
/// `default_source` fills a missing `source`; `new_id` a missing `id`.
pub fn parse_event(
    body: &[u8],
    structured: bool,
    default_source: &str,
    new_id: impl FnOnce() -> String,
) -> Result<CloudEvent, EventShapeError> {
    let element: Element = serde_json::from_slice(body)
        .map_err(|error| EventShapeError::NotJson(error.to_string()))?;
    event_from_element(element, structured, default_source, new_id)
}

/// One already-read JSON value → an event, as [`parse_event`] (each
/// element of a batch).
pub fn event_from_element(
    element: Element,
    structured: bool,
    default_source: &str,
    new_id: impl FnOnce() -> String,
) -> Result<CloudEvent, EventShapeError> {
    let Element::Object(mut members) = element else {
        return Err(EventShapeError::BadCloudEvent(
            "the event must be a JSON object".to_owned(),
        ));
    };
    if structured {
        return structured_event(*members);
    }
    if members.has_other("event_type") || members.has_other("event_id") {
        map_envelope(&mut members)?;
    }
    if members.slot(Attribute::Type).is_none() {
        return Err(EventShapeError::MissingType);
    }
    members
        .slot(Attribute::Specversion)
        .get_or_insert_with(|| Value::String(SPEC_VERSION.to_owned()));
    members
        .slot(Attribute::Id)
        .get_or_insert_with(|| Value::String(new_id()));
    members
        .slot(Attribute::Source)
        .get_or_insert_with(|| Value::String(default_source.to_owned()));
    structured_event(*members)
}

/// The seed's envelope keys renamed to their CloudEvents attributes.
fn map_envelope(members: &mut Members) -> Result<(), EventShapeError> {
    for (from, to) in [
        ("event_id", Attribute::Id),
        ("event_type", Attribute::Type),
        ("occurred_at", Attribute::Time),
        ("payload", Attribute::Data),
    ] {
        if let Some(value) = members.take_other(from) {
            let slot = members.slot(to);
            if slot.is_some() {
                return Err(EventShapeError::BadCloudEvent(format!(
                    "both `{from}` and `{}` are set",
                    to.name()
                )));
            }
            *slot = Some(value);
        }
    }
    Ok(())
}

const REQUIRED: [Attribute; 4] = [
    Attribute::Specversion,
    Attribute::Id,
    Attribute::Source,
    Attribute::Type,
];
const OPTIONAL_STRINGS: [Attribute; 3] = [
    Attribute::Subject,
    Attribute::Time,
    Attribute::Datacontenttype,
];

/// A structured event's members (or a binary-mode event's, gathered from
/// its headers and body) checked and made a [`CloudEvent`].
pub(super) fn structured_event(mut members: Members) -> Result<CloudEvent, EventShapeError> {
    if members.slot(Attribute::Type).is_none() {
        return Err(EventShapeError::MissingType);
    }
    let mut required = Vec::with_capacity(REQUIRED.len());
    for attribute in REQUIRED {
        required.push(required_string(
            members.slot(attribute).take(),
            attribute.name(),
        )?);
    }
    let [specversion, id, source, event_type] =
        <[String; 4]>::try_from(required).map_err(|_| bad("internal: attributes"))?;
    if specversion != SPEC_VERSION {
        return Err(bad(&format!(
            "`specversion` must be \"{SPEC_VERSION}\", not \"{specversion}\""
        )));
    }
    let mut optional = [None, None, None];
    for (attribute, kept) in OPTIONAL_STRINGS.into_iter().zip(&mut optional) {
        *kept = optional_string(members.slot(attribute).take(), attribute.name())?;
    }
    let [subject, time, datacontenttype] = optional;
    if let Some(time) = &time {
        chrono::DateTime::parse_from_rfc3339(time)
            .map_err(|_| bad(&format!("`time` \"{time}\" is not an RFC 3339 timestamp")))?;
    }
    let data_base64 = data_base64(members.slot(Attribute::DataBase64).take())?;
    let mut data = members.slot(Attribute::Data).take();
    if data_base64.is_some() {
        // `null` is no value, as for any attribute.
        if data.take().is_some_and(|data| !data.is_null()) {
            return Err(bad(
                "`data` and `data_base64` are mutually exclusive: send one of them",
            ));
        }
    }
    let extensions = extensions(members.into_other())?;
    Ok(CloudEvent {
        specversion,
        id,
        source,
        event_type,
        subject,
        time,
        datacontenttype,
        data,
        data_base64,
        extensions,
    })
}

/// Binary data as the JSON format carries it: a string of padded Base64
/// (RFC 4648 §4), checked by decoding it; `null` is no data.
fn data_base64(value: Option<Value>) -> Result<Option<String>, EventShapeError> {
    use base64::Engine as _;
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => {
            if base64::engine::general_purpose::STANDARD
                .decode(&text)
                .is_err()
            {
                return Err(bad("`data_base64` is not valid Base64 (RFC 4648, padded)"));
            }
            Ok(Some(text))
        }
        Some(_) => Err(bad("`data_base64` must be a string of Base64")),
    }
}

fn bad(message: &str) -> EventShapeError {
    EventShapeError::BadCloudEvent(message.to_owned())
}

fn required_string(value: Option<Value>, name: &str) -> Result<String, EventShapeError> {
    match value {
        Some(Value::String(text)) if !text.is_empty() => Ok(text),
        Some(_) => Err(bad(&format!("`{name}` must be a non-empty string"))),
        None => Err(bad(&format!("the required attribute `{name}` is missing"))),
    }
}

fn optional_string(value: Option<Value>, name: &str) -> Result<Option<String>, EventShapeError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if !text.is_empty() => Ok(Some(text)),
        Some(_) => Err(bad(&format!("`{name}` must be a non-empty string"))),
    }
}

/// Extension attributes: lower-case letters and digits (at most 20, as
/// the spec advises), scalar values.
fn extensions(members: Vec<(String, Value)>) -> Result<BTreeMap<String, Value>, EventShapeError> {
    let mut extensions = BTreeMap::new();
    for (name, value) in members {
        let valid_name = !name.is_empty()
            && name.len() <= 20
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !valid_name {
            return Err(bad(&format!(
                "`{name}` is not a CloudEvents attribute (extension names are lower-case letters and digits, at most 20)"
            )));
        }
        if matches!(value, Value::Object(_) | Value::Array(_)) {
            return Err(bad(&format!(
                "extension `{name}` must be a string, number or boolean"
            )));
        }
        extensions.insert(name, value);
    }
    Ok(extensions)
}

#[cfg(test)]
mod tests;
