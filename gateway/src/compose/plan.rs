//! The compiled composition of one route: its calls, their graph, the
//! response template, and the caches and coalescer that live as long as
//! the config snapshot does.
//!
//! A plan is built once by [`ComposePlan::build`](super::build) from a
//! [`ComposeInput`](super::build::ComposeInput) and never changes; the
//! executor only reads it.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, Method};
use prost_reflect::MethodDescriptor;

use super::cache::{CallCache, ResponseCache};
use super::coalesce::Coalescer;
use super::dag::CallGraph;
use super::template::{Segment, StringTemplate};
use super::value::ValueTemplate;
use crate::config::model::{BackendSpec, HeaderRule};
use crate::grpc::transcode::JsonOptions;

/// One route's composition.
#[derive(Debug)]
pub struct ComposePlan {
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
}

/// What kind of request a call makes.
#[derive(Debug, Clone, PartialEq)]
pub enum CallKind {
    Rest(RestCall),
    GraphQl(GraphQlCall),
    Grpc(GrpcCall),
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
    /// Safe calls may be coalesced by default.
    pub fn is_safe(&self) -> bool {
        match self {
            CallKind::Rest(rest) => rest.method.is_safe(),
            CallKind::GraphQl(call) => !call.query.trim_start().starts_with("mutation"),
            // Whether an RPC is safe is not known; opt in with `coalesce`.
            CallKind::Grpc(_) => false,
        }
    }

    /// A short label for logs and errors.
    pub fn label(&self) -> &'static str {
        match self {
            CallKind::Rest(_) => "REST",
            CallKind::GraphQl(_) => "GraphQL",
            CallKind::Grpc(_) => "gRPC",
        }
    }
}

impl ComposePlan {
    pub fn call_index(&self, name: &str) -> Option<usize> {
        self.calls.iter().position(|call| call.name == name)
    }
}
