//! Raw serde types for the gRPC bridge: the top-level `grpc:` section and
//! a route's `grpc:` action key. Compiled in `compile/grpc.rs`.

use marked_yaml::Spanned;
use serde::Deserialize;

use super::raw::Text;

/// `grpc:` — the protos, JSON defaults, and annotation-derived routes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGrpc {
    /// .proto files, relative to the config file.
    pub protos: Spanned<Vec<Text>>,
    /// Import roots, relative to the config file; default: each proto's
    /// own directory.
    #[serde(default)]
    pub include: Vec<Text>,
    /// Default for every transcoded route.
    pub unknown_fields: Option<Spanned<RawUnknownFields>>,
    /// Default for every transcoded route.
    pub max_depth: Option<Spanned<u64>>,
    /// Headers passed into gRPC metadata and back out, for every route.
    #[serde(default)]
    pub metadata: Vec<Text>,
    /// Routes generated from `google.api.http` annotations.
    #[serde(default)]
    pub annotations: Vec<Spanned<RawAnnotations>>,
}

/// One entry of `grpc.annotations:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAnnotations {
    pub backend: Text,
    /// Prepended to every annotated path, e.g. `/grpc`.
    pub prefix: Option<Text>,
    /// Full service names; default: every service in the protos.
    pub services: Option<Vec<Text>>,
    pub timeout: Option<Text>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawUnknownFields {
    Reject,
    Ignore,
}

/// A route's `grpc:` key (instead of `backend:`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGrpcRoute {
    pub backend: Text,
    /// `package.Service/Method`, for a transcoded route.
    pub method: Option<Text>,
    /// `true`: forward native gRPC and gRPC-Web as is.
    pub passthrough: Option<Spanned<bool>>,
    /// `"*"`, a field name, or absent (GET/DELETE: no body; else `"*"`).
    pub body: Option<Text>,
    pub unknown_fields: Option<Spanned<RawUnknownFields>>,
    pub max_depth: Option<Spanned<u64>>,
    /// Replaces the section's `metadata` list for this route.
    pub metadata: Option<Vec<Text>>,
}
