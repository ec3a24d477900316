//! The runtime composition of one route: the config's [`ComposeSpec`]
//! with every call's upstream pool, its gRPC method resolved in the
//! snapshot's descriptor pool, and the caches and coalescer.
//!
//! Built by [`ComposePlan::build`] when the snapshot is built. The caches
//! and the coalescer are carried over from the previous snapshot's plan
//! while the route's spec is unchanged, so a reload that touches other
//! routes keeps them warm; the executor only reads the plan.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use prost_reflect::{DescriptorPool, MethodDescriptor};

use super::cache::{CallCache, ResponseCache};
use super::coalesce::Coalescer;
use crate::config::model::compose::{CallGraph, ComposeCallKind, ComposeSpec};
pub use crate::config::model::compose::{GraphQlCall, RestCall};
use crate::config::model::{BackendSpec, HeaderRule};
use crate::grpc::transcode::JsonOptions;
use crate::protos::descriptors::find_method;
use crate::template::StringTemplate;
use crate::template::value::ValueTemplate;
use crate::upstream::{UpstreamPool, Upstreams};

/// One route's composition, ready to run.
#[derive(Debug)]
pub struct ComposePlan {
    /// What this plan was built from (compared on reload).
    pub spec: Arc<ComposeSpec>,
    /// In declaration order; indices are used everywhere else.
    pub calls: Vec<CallSpec>,
    pub graph: CallGraph,
    /// What the client receives.
    pub response: ValueTemplate,
    /// The call whose 404 is the client's 404.
    pub primary: usize,
    /// Run one call at a time in dependency order (for comparison).
    pub sequential: bool,
    /// The whole composition's deadline.
    pub deadline: Duration,
    /// The optional cache of whole composed responses.
    pub response_cache: Option<ResponseCache>,
    /// Shares identical in-flight calls of this route.
    pub coalescer: Arc<Coalescer>,
}

/// One call.
#[derive(Debug)]
pub struct CallSpec {
    pub name: String,
    pub backend: Arc<BackendSpec>,
    /// The backend's pool, resolved when the snapshot was built.
    pub pool: Arc<UpstreamPool>,
    pub kind: CallKind,
    /// An optional call's failure leaves `null` and a `_meta.errors` entry.
    pub optional: bool,
    /// Bounds the call from send to the end of its body.
    pub timeout: Duration,
    /// Extra request headers, templated.
    pub headers: Vec<(HeaderName, StringTemplate)>,
    /// Identical concurrent calls share one upstream request.
    pub coalesce: bool,
    pub cache: Option<CallCache>,
    /// Header propagation rules, applied after the global `propagate.all`.
    pub propagate: Vec<HeaderRule>,
    /// `retry:` on the call: replaces the route's and the backend's.
    pub retry: Option<Arc<crate::config::model::RetryPolicy>>,
    /// A GraphQL query: its POST may be retried like a GET.
    pub idempotent: bool,
}

/// What kind of request a call makes.
#[derive(Debug, Clone, PartialEq)]
pub enum CallKind {
    Rest(RestCall),
    GraphQl(GraphQlCall),
    Grpc(GrpcCall),
}

/// A unary gRPC call through the bridge's transcoder: the templated JSON
/// body becomes the request message, the reply message becomes the value
/// (proto3 JSON, lowerCamelCase field names).
#[derive(Debug, Clone, PartialEq)]
pub struct GrpcCall {
    pub method: MethodDescriptor,
    /// `/package.Service/Method`
    pub path: String,
    pub message: Option<ValueTemplate>,
    pub json: JsonOptions,
}

impl CallKind {
    /// A short label for logs and errors.
    pub fn label(&self) -> &'static str {
        match self {
            CallKind::Rest(_) => "REST",
            CallKind::GraphQl(_) => "GraphQL",
            CallKind::Grpc(_) => "gRPC",
        }
    }
}

/// The runtime state a plan keeps across reloads.
struct Carried {
    response_cache: Option<ResponseCache>,
    call_caches: Vec<Option<CallCache>>,
    coalescer: Arc<Coalescer>,
}

impl ComposePlan {
    /// Builds the plan for `spec`. `previous` is the same route's plan in
    /// the snapshot being replaced: its caches and coalescer are kept when
    /// its spec equals `spec` and `protos_unchanged` (a gRPC call's reply
    /// could decode differently under edited protos). Fails only if a gRPC
    /// method is missing from `descriptors`, which validation rules out.
    pub fn build(
        spec: &Arc<ComposeSpec>,
        upstreams: &mut Upstreams,
        descriptors: Option<&DescriptorPool>,
        previous: Option<&ComposePlan>,
        protos_unchanged: bool,
    ) -> Result<Self, String> {
        let carried = previous
            .filter(|old| old.spec == *spec && (protos_unchanged || !spec.uses_protos()))
            .map(ComposePlan::carried)
            .unwrap_or_else(|| Carried::fresh(spec));
        let mut calls = Vec::with_capacity(spec.calls.len());
        for (call, cache) in spec.calls.iter().zip(carried.call_caches) {
            let kind = match &call.kind {
                ComposeCallKind::Rest(rest) => CallKind::Rest(rest.clone()),
                ComposeCallKind::GraphQl(graphql) => CallKind::GraphQl(graphql.clone()),
                ComposeCallKind::Grpc(grpc) => {
                    let descriptors =
                        descriptors.ok_or("a gRPC composition call needs the grpc: section")?;
                    CallKind::Grpc(GrpcCall {
                        method: find_method(descriptors, &grpc.method)?,
                        path: grpc.path.clone(),
                        message: grpc.message.clone(),
                        json: grpc.json,
                    })
                }
            };
            calls.push(CallSpec {
                name: call.name.clone(),
                backend: Arc::clone(&call.backend),
                pool: upstreams.pool_for(&call.backend),
                kind,
                optional: call.optional,
                timeout: call.timeout,
                headers: call.headers.clone(),
                coalesce: call.coalesce,
                cache,
                propagate: call.propagate.clone(),
                retry: call.retry.clone(),
                idempotent: matches!(call.kind, ComposeCallKind::GraphQl(_)) && call.kind.is_safe(),
            });
        }
        Ok(Self {
            spec: Arc::clone(spec),
            calls,
            graph: spec.graph.clone(),
            response: spec.response.clone(),
            primary: spec.primary,
            sequential: spec.sequential,
            deadline: spec.deadline,
            response_cache: carried.response_cache,
            coalescer: carried.coalescer,
        })
    }

    pub fn call_index(&self, name: &str) -> Option<usize> {
        self.calls.iter().position(|call| call.name == name)
    }

    fn carried(&self) -> Carried {
        Carried {
            response_cache: self.response_cache.clone(),
            call_caches: self.calls.iter().map(|call| call.cache.clone()).collect(),
            coalescer: Arc::clone(&self.coalescer),
        }
    }
}

impl Carried {
    fn fresh(spec: &ComposeSpec) -> Self {
        Self {
            response_cache: spec.response_cache.clone().map(ResponseCache::new),
            call_caches: spec
                .calls
                .iter()
                .map(|call| call.cache.clone().map(CallCache::new))
                .collect(),
            coalescer: Arc::new(Coalescer::default()),
        }
    }
}
