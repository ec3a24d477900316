//! JSON ⇄ protobuf, through prost-reflect's proto3 JSON mapping.
//!
//! Requests: the body (whole, or bound to one field), the path variables
//! and the query parameters are merged into one JSON object, then
//! deserialised against the method's input descriptor. Field names are
//! accepted in lowerCamelCase and as written in the proto; enums by name or
//! number; 64-bit integers as strings or numbers; well-known types in
//! their JSON forms. Unknown fields are rejected or ignored as configured,
//! and the nesting depth is checked before any parsing.
//!
//! Responses: lowerCamelCase names, enums by name, 64-bit integers as
//! strings, and fields at their default value included.

mod params;

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions};
use serde_json::{Map, Value};

pub use crate::protos::bindings::{BodyBinding, JsonOptions, RequestBindings, UnknownFields};

/// Why a request could not be turned into a message (always the client's
/// fault: 400), or a response not into JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranscodeError {
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("request body nests deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("unknown field: {0}")]
    UnknownField(String),
    #[error("invalid value: {0}")]
    InvalidValue(String),
    #[error("parameter {name:?}: {problem}")]
    BadParameter { name: String, problem: String },
    #[error("the backend sent a message that does not decode as {message_type}: {reason}")]
    UndecodableResponse {
        message_type: String,
        reason: String,
    },
}

impl TranscodeError {
    /// Stable error code, for `google.rpc.ErrorInfo.reason`.
    pub fn code(&self) -> &'static str {
        match self {
            TranscodeError::MalformedJson(_) => "INVALID_JSON",
            TranscodeError::TooDeep { .. } => "JSON_TOO_DEEP",
            TranscodeError::UnknownField(_) => "UNKNOWN_FIELD",
            TranscodeError::InvalidValue(_) => "INVALID_FIELD_VALUE",
            TranscodeError::BadParameter { .. } => "INVALID_PARAMETER",
            TranscodeError::UndecodableResponse { .. } => "UNDECODABLE_RESPONSE",
        }
    }
}

/// Parses one JSON document (a whole body, or one NDJSON line or
/// WebSocket frame) as a message of type `desc`.
pub fn message_from_json(
    desc: &MessageDescriptor,
    json: &[u8],
    options: JsonOptions,
) -> Result<DynamicMessage, TranscodeError> {
    check_depth(json, options.max_depth)?;
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let message = DynamicMessage::deserialize_with_options(
        desc.clone(),
        &mut deserializer,
        &deserialize_options(options),
    )
    .map_err(classify)?;
    deserializer.end().map_err(classify)?;
    Ok(message)
}

/// Builds a request message from a JSON value (the merged body, path and
/// query fields).
pub fn message_from_value(
    desc: &MessageDescriptor,
    value: Value,
    options: JsonOptions,
) -> Result<DynamicMessage, TranscodeError> {
    DynamicMessage::deserialize_with_options(desc.clone(), value, &deserialize_options(options))
        .map_err(classify)
}

/// Encodes a message as protobuf bytes.
pub fn encode(message: &DynamicMessage) -> Bytes {
    Bytes::from(message.encode_to_vec())
}

/// Decodes a backend's protobuf message and writes it as JSON.
pub fn json_from_protobuf(
    desc: &MessageDescriptor,
    payload: Bytes,
) -> Result<Vec<u8>, TranscodeError> {
    let message = DynamicMessage::decode(desc.clone(), payload).map_err(|error| {
        TranscodeError::UndecodableResponse {
            message_type: desc.full_name().to_owned(),
            reason: error.to_string(),
        }
    })?;
    Ok(message_to_json(&message))
}

/// Writes a message as proto3 JSON.
pub fn message_to_json(message: &DynamicMessage) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    let mut serializer = serde_json::Serializer::new(&mut out);
    let options = SerializeOptions::new()
        .stringify_64_bit_integers(true)
        .use_enum_numbers(false)
        .use_proto_field_name(false)
        .skip_default_fields(false);
    // Serialising a valid DynamicMessage into a Vec cannot fail.
    let _ = message.serialize_with_options(&mut serializer, &options);
    out
}

/// Parses a body that must be a JSON object (or empty: `{}`).
pub(crate) fn body_object(
    body: &[u8],
    options: JsonOptions,
) -> Result<Map<String, Value>, TranscodeError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match body_value(body, options)? {
        Value::Object(map) => Ok(map),
        other => Err(TranscodeError::InvalidValue(format!(
            "expected a JSON object, found {}",
            kind_of(&other)
        ))),
    }
}

/// Parses any JSON document after the depth check.
pub(crate) fn body_value(body: &[u8], options: JsonOptions) -> Result<Value, TranscodeError> {
    check_depth(body, options.max_depth)?;
    serde_json::from_slice(body).map_err(classify)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn deserialize_options(options: JsonOptions) -> DeserializeOptions {
    DeserializeOptions::new().deny_unknown_fields(options.unknown_fields == UnknownFields::Reject)
}

/// Sorts serde errors into syntax errors and mapping errors.
fn classify(error: serde_json::Error) -> TranscodeError {
    use serde_json::error::Category;
    let text = error.to_string();
    match error.classify() {
        Category::Syntax | Category::Eof | Category::Io => TranscodeError::MalformedJson(text),
        Category::Data if text.starts_with("unrecognized field name") => {
            TranscodeError::UnknownField(text)
        }
        Category::Data => TranscodeError::InvalidValue(text),
    }
}

/// Rejects documents nested deeper than `limit`, without parsing them.
pub fn check_depth(json: &[u8], limit: usize) -> Result<(), TranscodeError> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in json {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    return Err(TranscodeError::TooDeep { limit });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
