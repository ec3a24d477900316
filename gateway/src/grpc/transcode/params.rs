//! Request bindings: which fields come from the path, the query and the body.
//!
//! Path variables win over query parameters, which fill only fields that
//! the path and body leave unbound (as grpc-gateway does). A query key is
//! a dotted field path (`item.product_id=p1`); a repeated field takes every
//! value given for it. Values are typed by the field they land in.

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value};

use super::{
    BodyBinding, JsonOptions, RequestBindings, TranscodeError, UnknownFields, body_object,
    body_value, message_from_json, message_from_value,
};
use prost_reflect::DynamicMessage;

impl RequestBindings {
    /// Builds the request message. `param` returns a decoded path parameter.
    pub fn build(
        &self,
        desc: &MessageDescriptor,
        body: &[u8],
        param: impl Fn(&str) -> Option<String>,
        query: Option<&str>,
        options: JsonOptions,
    ) -> Result<DynamicMessage, TranscodeError> {
        let query = query.filter(|q| !q.is_empty() && self.body != BodyBinding::All);
        if self.path.is_empty() && query.is_none() && self.body == BodyBinding::All {
            let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
                b"{}"
            } else {
                body
            };
            return message_from_json(desc, body, options);
        }
        let mut root = match &self.body {
            BodyBinding::All => body_object(body, options)?,
            BodyBinding::Field(field) if !body.is_empty() => {
                Map::from_iter([(field.clone(), body_value(body, options)?)])
            }
            _ => Map::new(),
        };
        for variable in &self.path {
            let name = variable.field_path.join(".");
            let value = variable
                .value(&param)
                .ok_or_else(|| bad(&name, "missing from the path"))?;
            set_field(&mut root, desc, &variable.field_path, value, options, true)?;
        }
        for (key, value) in query.map(query_pairs).unwrap_or_default() {
            let path: Vec<String> = key.split('.').map(str::to_owned).collect();
            set_field(&mut root, desc, &path, value, options, false)?;
        }
        message_from_value(desc, Value::Object(root), options)
    }
}

fn bad(name: &str, problem: impl Into<String>) -> TranscodeError {
    TranscodeError::BadParameter {
        name: name.to_owned(),
        problem: problem.into(),
    }
}

/// Splits `a=1&b=x%20y` into decoded pairs (`+` is a space).
fn query_pairs(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) => (decode(key), decode(value)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

/// Sets `root[path] = text`, typed by the field. Path variables overwrite;
/// query parameters append to repeated fields and never overwrite.
fn set_field(
    root: &mut Map<String, Value>,
    desc: &MessageDescriptor,
    path: &[String],
    text: String,
    options: JsonOptions,
    from_path: bool,
) -> Result<(), TranscodeError> {
    let dotted = path.join(".");
    let (mut object, mut message) = (root, desc.clone());
    for (index, segment) in path.iter().enumerate() {
        let Some(field) = find_field(&message, segment) else {
            return match options.unknown_fields {
                UnknownFields::Reject => Err(bad(
                    &dotted,
                    format!("{} has no field {segment:?}", message.full_name()),
                )),
                UnknownFields::Ignore => Ok(()),
            };
        };
        let key = field.name().to_owned();
        if index + 1 == path.len() {
            return set_leaf(object, &field, key, text, &dotted, from_path);
        }
        let Kind::Message(inner) = field.kind() else {
            return Err(bad(&dotted, format!("{segment:?} is not a message field")));
        };
        if field.is_list() || field.is_map() {
            return Err(bad(
                &dotted,
                format!("{segment:?} is repeated; it cannot be set from a parameter"),
            ));
        }
        let slot = object
            .entry(key)
            .or_insert_with(|| Value::Object(Map::new()));
        object = slot
            .as_object_mut()
            .ok_or_else(|| bad(&dotted, "is also set to a non-object in the body"))?;
        message = inner;
    }
    Ok(())
}

fn find_field(message: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    message
        .get_field_by_name(name)
        .or_else(|| message.get_field_by_json_name(name))
}

fn set_leaf(
    object: &mut Map<String, Value>,
    field: &FieldDescriptor,
    key: String,
    text: String,
    dotted: &str,
    from_path: bool,
) -> Result<(), TranscodeError> {
    let value = scalar_value(field, text, dotted)?;
    if field.is_list() {
        match object
            .entry(key)
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(items) => items.push(value),
            _ => return Err(bad(dotted, "is also set in the body")),
        }
    } else if field.is_map() {
        return Err(bad(dotted, "map fields cannot be set from a parameter"));
    } else if from_path || !object.contains_key(&key) {
        object.insert(key, value);
    }
    Ok(())
}

/// The JSON value a parameter's text stands for, by the field's kind.
fn scalar_value(
    field: &FieldDescriptor,
    text: String,
    dotted: &str,
) -> Result<Value, TranscodeError> {
    match field.kind() {
        Kind::Bool => match text.as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(bad(
                dotted,
                format!("expected true or false, found {text:?}"),
            )),
        },
        Kind::Message(inner) if !is_string_like_wkt(inner.full_name()) => Err(bad(
            dotted,
            format!(
                "is a {} message; it cannot be set from a parameter",
                inner.full_name()
            ),
        )),
        _ => Ok(Value::String(text)),
    }
}

/// Well-known types whose JSON form is a string or number, settable from text.
fn is_string_like_wkt(name: &str) -> bool {
    matches!(
        name,
        "google.protobuf.Timestamp"
            | "google.protobuf.Duration"
            | "google.protobuf.FieldMask"
            | "google.protobuf.StringValue"
            | "google.protobuf.BytesValue"
            | "google.protobuf.Int32Value"
            | "google.protobuf.Int64Value"
            | "google.protobuf.UInt32Value"
            | "google.protobuf.UInt64Value"
            | "google.protobuf.FloatValue"
            | "google.protobuf.DoubleValue"
    )
}
