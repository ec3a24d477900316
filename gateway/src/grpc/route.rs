//! The compiled, per-route gRPC action: what `RouteAction::Grpc` carries.
//!
//! Built by `config` (from `google.api.http` annotations or from a route's
//! `grpc:` key) and read by the handlers. Everything here is immutable and
//! already validated: the method is resolved in the descriptor pool, the
//! bindings are checked against its input message.

use std::sync::Arc;

use http::HeaderName;
use prost_reflect::MethodDescriptor;

use super::descriptors::grpc_path;
use super::transcode::{JsonOptions, RequestBindings};
use crate::config::model::BackendSpec;

/// A route that talks gRPC to a backend.
#[derive(Debug, Clone)]
pub struct GrpcRoute {
    pub backend: Arc<BackendSpec>,
    pub mode: GrpcMode,
    /// Headers passed into gRPC metadata, and from response metadata back
    /// into headers (`x-request-id` always passes).
    pub metadata: Vec<HeaderName>,
}

/// What the route does with a request.
#[derive(Debug, Clone)]
pub enum GrpcMode {
    /// JSON in, JSON out, one method.
    Transcode(Box<Transcoding>),
    /// Native gRPC (and gRPC-Web, translated) forwarded to the backend.
    Passthrough,
}

/// A transcoded method.
#[derive(Debug, Clone)]
pub struct Transcoding {
    pub method: MethodDescriptor,
    /// `/package.Service/Method`.
    pub grpc_path: String,
    pub bindings: RequestBindings,
    pub json: JsonOptions,
}

impl Transcoding {
    pub fn new(method: MethodDescriptor, bindings: RequestBindings, json: JsonOptions) -> Self {
        Self {
            grpc_path: grpc_path(&method),
            method,
            bindings,
            json,
        }
    }

    /// Which of gRPC's four call kinds the method is.
    pub fn call_kind(&self) -> CallKind {
        match (
            self.method.is_client_streaming(),
            self.method.is_server_streaming(),
        ) {
            (false, false) => CallKind::Unary,
            (false, true) => CallKind::ServerStreaming,
            (true, false) => CallKind::ClientStreaming,
            (true, true) => CallKind::Bidirectional,
        }
    }
}

/// gRPC's four call kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Unary,
    ServerStreaming,
    ClientStreaming,
    Bidirectional,
}
