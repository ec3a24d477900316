//! A route's compiled `compose:` block, as plain data: its calls with
//! their parsed templates, the call graph derived from them, the response
//! template, the failure policy and the cache *settings*.
//!
//! The runtime plan (`compose::ComposePlan`: the calls' upstream pools, the
//! caches, the coalescer, gRPC methods resolved in the descriptor pool) is
//! built from this when the snapshot is built, and carried over across
//! reloads while this spec is unchanged.

pub mod dag;

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, Method};

use super::BackendSpec;
use crate::protos::bindings::JsonOptions;
use crate::template::value::ValueTemplate;
use crate::template::{Segment, StringTemplate};
pub use dag::CallGraph;

/// One route's composition.
#[derive(Debug, Clone, PartialEq)]
pub struct ComposeSpec {
    /// In declaration order; indices are used everywhere else.
    pub calls: Vec<ComposeCall>,
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
    pub response_cache: Option<ResponseCacheSettings>,
}

impl ComposeSpec {
    pub fn call_index(&self, name: &str) -> Option<usize> {
        self.calls.iter().position(|call| call.name == name)
    }

    /// Whether a call goes through the gRPC descriptors.
    pub fn uses_protos(&self) -> bool {
        self.calls
            .iter()
            .any(|call| matches!(call.kind, ComposeCallKind::Grpc(_)))
    }
}

/// One call.
#[derive(Debug, Clone, PartialEq)]
pub struct ComposeCall {
    pub name: String,
    pub backend: Arc<BackendSpec>,
    pub kind: ComposeCallKind,
    /// An optional call's failure leaves `null` and a `_meta.errors` entry.
    pub optional: bool,
    /// Bounds the call from send to the end of its body.
    pub timeout: Duration,
    /// Extra request headers, templated.
    pub headers: Vec<(HeaderName, StringTemplate)>,
    /// Identical concurrent calls share one upstream request.
    pub coalesce: bool,
    pub cache: Option<CallCacheSettings>,
    /// Header propagation rules, applied after the global `propagate.all`.
    pub propagate: Vec<super::HeaderRule>,
    /// `retry:` on the call: replaces the route's and the backend's policy.
    pub retry: Option<Arc<super::RetryPolicy>>,
}

/// What kind of request a call makes.
#[derive(Debug, Clone, PartialEq)]
pub enum ComposeCallKind {
    Rest(RestCall),
    GraphQl(GraphQlCall),
    Grpc(GrpcCallSpec),
}

impl ComposeCallKind {
    /// Safe calls may be coalesced by default.
    pub fn is_safe(&self) -> bool {
        match self {
            ComposeCallKind::Rest(rest) => rest.method.is_safe(),
            ComposeCallKind::GraphQl(call) => !call.query.trim_start().starts_with("mutation"),
            // Whether an RPC is safe is not known; opt in with `coalesce`.
            ComposeCallKind::Grpc(_) => false,
        }
    }
}

/// An HTTP request whose JSON response body is the call's value.
#[derive(Debug, Clone, PartialEq)]
pub struct RestCall {
    pub method: Method,
    /// Path and query, templated.
    pub path: StringTemplate,
    /// A JSON body, templated.
    pub body: Option<ValueTemplate>,
}

/// A `POST {query, variables}` to a GraphQL endpoint; the value is the
/// response's `data` at `data_path`, and any `errors` fail the call.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphQlCall {
    pub path: StringTemplate,
    pub query: String,
    pub variables: Option<ValueTemplate>,
    pub data_path: Vec<Segment>,
}

/// A unary gRPC call through the bridge's transcoder, by method name
/// (`package.Service/Method`, checked to exist and to be unary).
#[derive(Debug, Clone, PartialEq)]
pub struct GrpcCallSpec {
    pub method: String,
    /// `/package.Service/Method`
    pub path: String,
    pub message: Option<ValueTemplate>,
    pub json: JsonOptions,
}

/// `cache:` on a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallCacheSettings {
    /// The longest an entry lives (and how long it lives when the backend
    /// says nothing).
    pub ttl: Duration,
    pub honor_cache_control: bool,
    pub max_entries: u64,
}

/// `cache:` on the composition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseCacheSettings {
    pub ttl: Duration,
    /// Request headers whose values are part of the key.
    pub vary: Vec<HeaderName>,
    pub max_entries: u64,
}
