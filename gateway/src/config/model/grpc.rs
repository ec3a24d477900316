//! A route's compiled `grpc:` action, as plain data: the backend, the
//! method by name and how its request message is built. The gRPC bridge
//! resolves the method in the snapshot's descriptor pool
//! (`grpc::GrpcRoute::build`); validation already found it there.

use std::sync::Arc;

use http::HeaderName;

use super::BackendSpec;
use crate::protos::bindings::{JsonOptions, RequestBindings};
use crate::protos::descriptors::CallKind;

/// A route that talks gRPC to a backend.
#[derive(Debug, Clone, PartialEq)]
pub struct GrpcRouteSpec {
    pub backend: Arc<BackendSpec>,
    pub mode: GrpcModeSpec,
    /// Headers passed into gRPC metadata, and from response metadata back
    /// into headers (`x-request-id` always passes).
    pub metadata: Vec<HeaderName>,
}

/// What the route does with a request.
#[derive(Debug, Clone, PartialEq)]
pub enum GrpcModeSpec {
    /// JSON in, JSON out, one method.
    Transcode(Box<TranscodeSpec>),
    /// Native gRPC (and gRPC-Web, translated) forwarded to the backend.
    Passthrough,
}

/// A transcoded method.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscodeSpec {
    /// The method's full name, `package.Service/Method`.
    pub method: String,
    /// Which of gRPC's four call kinds it is.
    pub kind: CallKind,
    pub bindings: RequestBindings,
    pub json: JsonOptions,
}
