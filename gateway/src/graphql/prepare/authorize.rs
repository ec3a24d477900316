//! The authorization step of preparing a request (see
//! [`crate::graphql::authorization`]): the guards of an operation, found
//! when it is prepared, and per request the variant of the operation the
//! caller may see. A variant is looked up without a lock on the worker;
//! a new one is planned on the planning pool, within its time budget,
//! through the plan cache (keyed by the filtered operation's text, so it
//! is never confused with the whole operation's plan).

use std::collections::HashSet;
use std::sync::Arc;

use hive_router_query_planner::ast::document::NormalizedDocument;
use hive_router_query_planner::state::supergraph_state::OperationKind;
use serde_json::{Map, Value};
use tracing::Span;

use super::super::authorization::{
    AuthorizedVariant, OperationGuards, filter::without_selections, unauthorized,
};
use super::super::error::RequestError;
use super::super::operation_cache::PreparedDocument;
use super::super::planning::{Budget, PlanningPool};
use super::super::supergraph::Supergraph;
use super::plan_cached;
use crate::context::Principal;

/// The guarded selections of a normalized operation (none when the
/// supergraph has no authorization directive).
pub(super) fn guards(
    supergraph: &Supergraph,
    normalized: &NormalizedDocument,
    kind: &OperationKind,
) -> OperationGuards {
    let state = &supergraph.planner.supergraph;
    match state.root_type_name(Some(kind)) {
        Ok(root) => OperationGuards::collect(
            &supergraph.authorization,
            state,
            normalized.executable_operation(),
            root,
        ),
        Err(_) => OperationGuards::default(),
    }
}

/// The variant `principal` gets, or `None` when every guard allows them
/// (the whole operation's plan serves).
pub(super) async fn authorize(
    pool: &PlanningPool,
    supergraph: &Arc<Supergraph>,
    operation: &Arc<PreparedDocument>,
    principal: Option<&Principal>,
    variables: &Map<String, Value>,
) -> Result<Option<Arc<AuthorizedVariant>>, RequestError> {
    if operation.guards.is_empty() {
        return Ok(None);
    }
    let removed = unauthorized(&operation.guards, principal, variables);
    if removed.is_empty() {
        return Ok(None);
    }
    if let Some(variant) = operation.authorized.get(&removed) {
        return Ok(Some(variant));
    }
    let (supergraph, operation) = (Arc::clone(supergraph), Arc::clone(operation));
    let request_span = Span::current();
    pool.run(move |budget| {
        let variant =
            request_span.in_scope(|| variant(&supergraph, &operation, removed, budget))?;
        let variant = Arc::new(variant);
        budget.check()?;
        operation.authorized.insert(Arc::clone(&variant));
        Ok(Some(variant))
    })
    .await
}

/// Plans the operation without the selections of the `removed` guards.
fn variant(
    supergraph: &Supergraph,
    operation: &PreparedDocument,
    removed: Vec<usize>,
    budget: &Budget,
) -> Result<AuthorizedVariant, RequestError> {
    let guards = &operation.guards;
    let selections: HashSet<u32> = removed
        .iter()
        .filter_map(|index| guards.guards.get(*index))
        .map(|guard| guard.selection)
        .collect();
    let normalized = &operation.normalized;
    let filtered = without_selections(normalized.executable_operation(), &selections);
    let plan = match filtered {
        Some(filtered) => {
            let filtered = NormalizedDocument {
                operation: filtered,
                operation_name: normalized.operation_name.clone(),
            };
            let text = filtered.executable_operation().to_string();
            let (plan, _) = plan_cached(supergraph, &filtered, text, budget, &Span::none())?;
            Some(plan)
        }
        None => None,
    };
    let (errors, withheld) = AuthorizedVariant::describe(guards, &removed);
    Ok(AuthorizedVariant {
        removed: removed.into_boxed_slice(),
        plan,
        errors,
        withheld,
    })
}
