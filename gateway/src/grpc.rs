//! The gRPC bridge: REST/JSON to gRPC transcoding, native gRPC passthrough
//! and gRPC-Web, from .proto files loaded at runtime.

pub mod descriptors;
pub mod framing;
pub mod http_rule;
pub mod path_template;
pub mod status;
pub mod transcode;
