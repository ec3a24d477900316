//! The per-route gRPC action as the bridge runs it: the config's
//! [`GrpcRouteSpec`] with its backend's pool and its method resolved in
//! the snapshot's descriptor pool. Built by `Snapshot::build`
//! ([`GrpcRoute::build`]) and read by the handlers.

use std::sync::Arc;

use http::HeaderName;
use prost_reflect::{DescriptorPool, MethodDescriptor};

use super::transcode::{JsonOptions, RequestBindings};
use crate::config::model::BackendSpec;
use crate::config::model::grpc::{GrpcModeSpec, GrpcRouteSpec};
use crate::protos::descriptors::{find_method, grpc_path};
use crate::upstream::UpstreamPool;

pub use crate::protos::descriptors::CallKind;

/// A route that talks gRPC to a backend.
#[derive(Debug, Clone)]
pub struct GrpcRoute {
    pub backend: Arc<BackendSpec>,
    /// The backend's pool, resolved when the snapshot was built.
    pub pool: Arc<UpstreamPool>,
    pub mode: GrpcMode,
    /// Headers passed into gRPC metadata, and from response metadata back
    /// into headers (`x-request-id` always passes).
    pub metadata: Vec<HeaderName>,
}

impl GrpcRoute {
    /// Resolves `spec` against the snapshot's pool and descriptors. Fails
    /// only if the descriptors do not hold the method the config found in
    /// them (they are the same bytes), so never in practice.
    pub fn build(
        spec: &GrpcRouteSpec,
        pool: Arc<UpstreamPool>,
        descriptors: Option<&DescriptorPool>,
    ) -> Result<Self, String> {
        let mode = match &spec.mode {
            GrpcModeSpec::Passthrough => GrpcMode::Passthrough,
            GrpcModeSpec::Transcode(transcode) => {
                let descriptors =
                    descriptors.ok_or("a transcoded gRPC route needs the grpc: section")?;
                let method = find_method(descriptors, &transcode.method)?;
                GrpcMode::Transcode(Box::new(Transcoding::new(
                    method,
                    transcode.bindings.clone(),
                    transcode.json,
                )))
            }
        };
        Ok(Self {
            backend: Arc::clone(&spec.backend),
            pool,
            mode,
            metadata: spec.metadata.clone(),
        })
    }
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
        CallKind::of(&self.method)
    }
}
