//! Our executor of query plans. It walks the plan — Sequence, Parallel,
//! Fetch, Flatten (with `_entities` representations), BatchFetch (several
//! entity fetches to one subgraph in one request) and Condition —
//! sending each fetch through the subgraph's upstream pool and merging
//! the results into one response tree. Siblings of a Parallel node run
//! concurrently; the tree is only locked to read representations and to
//! merge results, never across a subgraph call.
//!
//! The merged tree is shaped by the client's operation afterwards, in
//! [`crate::graphql::response`].

mod dedupe;
mod entities;
mod fetch;
mod representation;
mod subgraph_call;
pub(crate) mod tree;

use std::sync::{Arc, Mutex, PoisonError};

use futures::future::{BoxFuture, FutureExt, join_all};
use hive_router_query_planner::planner::plan_nodes::{PlanNode, QueryPlan};
use serde_json::{Map, Value};

use super::GraphqlSettings;
use super::error::GraphqlError;
use super::supergraph::Supergraph;
use crate::config::model::Propagation;
use crate::context::RequestContext;
use crate::upstream::outbound::Outbound;

/// Execution-wide settings.
#[derive(Debug, Clone, Default)]
pub struct ExecutionOptions {
    /// Pass subgraph error messages through instead of masking them.
    pub expose_subgraph_errors: bool,
    /// The client request's id, for the log.
    pub request_id: String,
    /// Builds every subgraph request (forwarding headers, request id,
    /// propagated client headers, trace context).
    pub outbound: Option<Arc<Outbound>>,
    /// The `propagate:` rules (`all`, then the subgraph's own).
    pub propagate: Arc<Propagation>,
    /// Subgraph fetch durations go here, when metrics are on.
    pub metrics: Option<Arc<crate::observe::metrics::Metrics>>,
}

impl ExecutionOptions {
    /// The options of one client request on the endpoint.
    pub fn for_request(settings: &GraphqlSettings, ctx: &RequestContext) -> Self {
        ExecutionOptions {
            expose_subgraph_errors: settings.expose_subgraph_errors,
            request_id: ctx.request_id.as_str().to_owned(),
            outbound: ctx.outbound.clone(),
            propagate: Arc::clone(&ctx.snapshot.config.propagate),
            metrics: super::metrics::of(ctx).cloned(),
        }
    }
}

/// The state of one execution, shared by concurrent fetches.
pub(crate) struct ExecutionContext<'a> {
    pub supergraph: &'a Supergraph,
    pub variables: &'a Map<String, Value>,
    pub options: &'a ExecutionOptions,
    data: Mutex<Value>,
    errors: Mutex<Vec<GraphqlError>>,
}

impl<'a> ExecutionContext<'a> {
    pub(crate) fn with_data<R>(&self, f: impl FnOnce(&mut Value) -> R) -> R {
        f(&mut self.data.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn types(&self) -> tree::PossibleTypes<'a> {
        tree::PossibleTypes {
            state: &self.supergraph.planner.supergraph,
            index: &self.supergraph.response_types,
        }
    }

    pub(crate) fn push_errors(&self, errors: impl IntoIterator<Item = GraphqlError>) {
        self.errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(errors);
    }
}

/// Runs `plan` with the request's (defaulted) `variables`; returns the
/// merged data tree and the errors raised along the way.
pub async fn execute_plan(
    supergraph: &Supergraph,
    plan: &QueryPlan,
    variables: &Map<String, Value>,
    options: &ExecutionOptions,
) -> (Value, Vec<GraphqlError>) {
    let start = Value::Object(Map::new());
    execute_nodes(supergraph, plan.node.as_slice(), start, variables, options).await
}

/// Runs `nodes` in sequence on top of `data` (a subscription event's
/// payload, or an empty object).
pub async fn execute_nodes(
    supergraph: &Supergraph,
    nodes: &[PlanNode],
    data: Value,
    variables: &Map<String, Value>,
    options: &ExecutionOptions,
) -> (Value, Vec<GraphqlError>) {
    let ctx = ExecutionContext {
        supergraph,
        variables,
        options,
        data: Mutex::new(data),
        errors: Mutex::new(Vec::new()),
    };
    for node in nodes {
        execute_node(&ctx, node).await;
    }
    let data = ctx
        .data
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    let errors = ctx
        .errors
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    (data, errors)
}

fn execute_node<'a>(ctx: &'a ExecutionContext<'a>, node: &'a PlanNode) -> BoxFuture<'a, ()> {
    async move {
        match node {
            PlanNode::Fetch(fetch) => fetch::root_fetch(ctx, fetch).await,
            PlanNode::Flatten(flatten) => match flatten.node.as_ref() {
                PlanNode::Fetch(fetch) => entities::flatten_fetch(ctx, &flatten.path, fetch).await,
                other => unsupported(ctx, other),
            },
            PlanNode::BatchFetch(batch) => entities::batch_fetch(ctx, batch).await,
            PlanNode::Sequence(sequence) => {
                for child in &sequence.nodes {
                    execute_node(ctx, child).await;
                }
            }
            PlanNode::Parallel(parallel) => {
                join_all(parallel.nodes.iter().map(|child| execute_node(ctx, child))).await;
            }
            PlanNode::Condition(condition) => {
                let branch = if variable_is_true(ctx.variables, &condition.condition) {
                    condition.if_clause.as_deref()
                } else {
                    condition.else_clause.as_deref()
                };
                if let Some(branch) = branch {
                    execute_node(ctx, branch).await;
                }
            }
            other => unsupported(ctx, other),
        }
    }
    .boxed()
}

fn unsupported(ctx: &ExecutionContext<'_>, node: &PlanNode) {
    let kind = match node {
        PlanNode::Defer(_) => "Defer",
        PlanNode::Subscription(_) => "Subscription",
        _ => "nested",
    };
    ctx.push_errors([GraphqlError::new(
        "UNSUPPORTED_PLAN_NODE",
        format!("the executor does not support {kind} plan nodes here"),
    )]);
}

/// `@skip` / `@include` conditions: a variable that is `true`.
pub(crate) fn variable_is_true(variables: &Map<String, Value>, name: &str) -> bool {
    variables
        .get(name)
        .and_then(Value::as_bool)
        .unwrap_or(false)
}
