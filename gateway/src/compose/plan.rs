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

use super::cache::{CallCache, ResponseCache};
use super::coalesce::Coalescer;
use super::dag::CallGraph;
use super::template::{Segment, StringTemplate};
use super::value::ValueTemplate;
use crate::config::model::BackendSpec;

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
}

/// What kind of request a call makes.
#[derive(Debug, Clone, PartialEq)]
pub enum CallKind {
    Rest(RestCall),
    GraphQl(GraphQlCall),
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

impl CallKind {
    /// Safe calls may be coalesced by default.
    pub fn is_safe(&self) -> bool {
        match self {
            CallKind::Rest(rest) => rest.method.is_safe(),
            CallKind::GraphQl(call) => !call.query.trim_start().starts_with("mutation"),
        }
    }

    /// A short label for logs and errors.
    pub fn label(&self) -> &'static str {
        match self {
            CallKind::Rest(_) => "REST",
            CallKind::GraphQl(_) => "GraphQL",
        }
    }
}

impl ComposePlan {
    pub fn call_index(&self, name: &str) -> Option<usize> {
        self.calls.iter().position(|call| call.name == name)
    }
}
