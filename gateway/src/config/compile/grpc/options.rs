//! Settings shared by the section and its routes: JSON policy, metadata.

use http::HeaderName;
use marked_yaml::Spanned;

use super::super::super::errors::Diagnostics;
use super::super::super::raw::Text;
use super::super::super::raw_grpc::RawUnknownFields;
use crate::protos::bindings::{JsonOptions, UnknownFields};

/// Deepest nesting a route may allow (serde_json's own limit is 128).
const MAX_DEPTH_CEILING: u64 = 100;

/// Headers gRPC itself owns; passing them as metadata would break calls.
const RESERVED: &[&str] = &[
    "content-type",
    "te",
    "host",
    "connection",
    "transfer-encoding",
    "user-agent",
];

/// Overrides `defaults` with the given keys.
pub(super) fn json_options(
    unknown: Option<&Spanned<RawUnknownFields>>,
    depth: Option<&Spanned<u64>>,
    defaults: JsonOptions,
    diag: &mut Diagnostics,
) -> JsonOptions {
    let mut options = defaults;
    if let Some(unknown) = unknown {
        options.unknown_fields = match **unknown {
            RawUnknownFields::Reject => UnknownFields::Reject,
            RawUnknownFields::Ignore => UnknownFields::Ignore,
        };
    }
    if let Some(depth) = depth {
        if (1..=MAX_DEPTH_CEILING).contains(&**depth) {
            options.max_depth = **depth as usize;
        } else {
            diag.error(
                depth.span(),
                format!("grpc: max_depth must be between 1 and {MAX_DEPTH_CEILING}"),
            );
        }
    }
    options
}

/// A `metadata:` list of header names.
pub(super) fn metadata(names: &[Text], diag: &mut Diagnostics) -> Vec<HeaderName> {
    names
        .iter()
        .filter_map(|text| {
            let lower = text.to_ascii_lowercase();
            let problem = if RESERVED.contains(&lower.as_str())
                || lower.starts_with("grpc-")
                || lower.starts_with(':')
            {
                format!("grpc: metadata: \"{}\" is reserved by gRPC", text.as_str())
            } else if let Ok(name) = HeaderName::from_bytes(lower.as_bytes()) {
                return Some(name);
            } else {
                format!("grpc: metadata: \"{}\" is not a header name", text.as_str())
            };
            diag.error(text.span(), problem);
            None
        })
        .collect()
}
