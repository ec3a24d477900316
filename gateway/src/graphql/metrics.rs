//! What the GraphQL endpoint tells the gateway's metrics: each operation
//! by type and name, its operation-cache and plan-cache lookups, and the
//! errors sent to the client. The counters themselves live in
//! `observe::metrics`; this module only translates GraphQL's types.

use std::sync::Arc;

use hive_router_query_planner::state::supergraph_state::OperationKind;
use serde_json::Value;

use super::error::{GraphqlError, RequestError};
use super::prepare::PreparedOperation;
use crate::context::RequestContext;
use crate::observe::metrics::Metrics;

/// The gateway's metrics, when they are on.
pub fn of(ctx: &RequestContext) -> Option<&Arc<Metrics>> {
    ctx.exchange
        .as_ref()
        .and_then(|exchange| exchange.observers.metrics())
}

/// An operation that is about to run, and how it was prepared: from the
/// operation cache, or planned (through the plan cache).
pub fn operation(ctx: &RequestContext, prepared: &PreparedOperation) {
    let Some(metrics) = of(ctx) else {
        return;
    };
    metrics.graphql_operation(
        kind_label(&prepared.kind),
        prepared.normalized.operation_name.as_deref(),
    );
    metrics.graphql_cache("operation", prepared.cache_hit);
    if let (false, Some(plan_hit)) = (prepared.cache_hit, prepared.plan_cache_hit) {
        metrics.graphql_cache("plan", plan_hit);
    }
}

/// The errors of one response.
pub fn errors(ctx: &RequestContext, errors: &[GraphqlError]) {
    let Some(metrics) = of(ctx) else {
        return;
    };
    for error in errors {
        metrics.graphql_error(error.extensions.get("code").and_then(Value::as_str));
    }
}

/// A request refused before or instead of execution.
pub fn request_error(ctx: &RequestContext, error: &RequestError) {
    if let Some(metrics) = of(ctx) {
        metrics.graphql_error(Some(error.code()));
    }
}

fn kind_label(kind: &OperationKind) -> &'static str {
    match kind {
        OperationKind::Query => "query",
        OperationKind::Mutation => "mutation",
        OperationKind::Subscription => "subscription",
    }
}
