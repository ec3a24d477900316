//! How a transcoded call turns JSON into a request message: which fields
//! come from the path and the body ([`RequestBindings`]), and the JSON
//! policy ([`JsonOptions`]). Plain data; the gRPC bridge's `transcode`
//! module applies it.

use crate::protos::path_template::Variable;

/// What to do with a JSON field the message does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownFields {
    #[default]
    Reject,
    Ignore,
}

/// Per-route JSON parsing limits and policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonOptions {
    pub unknown_fields: UnknownFields,
    /// Deepest allowed nesting of objects and arrays in a request body.
    pub max_depth: usize,
}

impl Default for JsonOptions {
    fn default() -> Self {
        Self {
            unknown_fields: UnknownFields::Reject,
            max_depth: 32,
        }
    }
}

/// Where the request body goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyBinding {
    /// No body: every field comes from the path and query.
    None,
    /// `body: "*"`: the body is the whole message (path fields added).
    All,
    /// `body: "field"`: the body is this field's value.
    Field(String),
}

/// How one route builds its request message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestBindings {
    pub body: BodyBinding,
    pub path: Vec<Variable>,
}
