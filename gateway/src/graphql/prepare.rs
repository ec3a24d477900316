//! From request to plan. On the worker thread: look the document up in
//! the operation cache (by the SHA-256 of its text and the operation
//! name); a hit only adds the variables' defaults. A miss goes to the
//! planning pool ([`super::planning`]), within the time budget: parse
//! (with the token limit), pick the operation, check the protection limits
//! (linear, before anything expensive), validate against the public schema,
//! normalize, then plan through the plan cache (keyed by the normalized
//! operation and its name). The result is cached unless its budget ran out.
//!
//! Then authorization ([`authorize`]): on a supergraph with
//! `@authenticated` / `@requiresScopes`, the operation's guarded
//! selections are checked against the request's principal; a caller some
//! guard refuses gets the plan of the operation without those selections.
//!
//! With traces on, parse, validate and plan are spans (plan with its
//! plan-cache hit), children of the request's span although they run on
//! a pool thread: the request's span is carried there and entered.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use graphql_tools::parser::query::{Definition, Document, OperationDefinition, Selection};
use hive_router_query_planner::ast::document::NormalizedDocument;
use hive_router_query_planner::ast::normalization::normalize_operation;
use hive_router_query_planner::graph::PlannerOverrideContext;
use hive_router_query_planner::planner::PlannerError;
use hive_router_query_planner::state::supergraph_state::OperationKind;
use hive_router_query_planner::utils::parsing::safe_parse_operation_with_token_limit;
use serde_json::{Map, Value};
use tracing::Span;

mod authorize;

use super::authorization::{AuthorizedVariant, AuthorizedVariants, OperationGuards};
use super::error::RequestError;
use super::limits::{self, Limits};
use super::operation_cache::{OperationKey, PreparedDocument, WeighedPlan, operation_key};
use super::planning::{Budget, PlanningPool};
use super::request::GraphqlRequest;
use super::service::GraphqlService;
use super::supergraph::{CachedPlan, Supergraph};
use super::validate::validate_document;
use super::variables;
use crate::observe::otel::{otel_span, spans};

/// An operation ready to execute: the cached, prepared document plus this
/// request's variables (with the operation's defaults).
pub struct PreparedOperation {
    pub operation: Arc<PreparedDocument>,
    pub variables: Map<String, Value>,
    /// Found in the operation cache (metrics).
    pub cache_hit: bool,
    /// What the caller may not see, when a guard refused them.
    pub authorized: Option<Arc<AuthorizedVariant>>,
}

impl PreparedOperation {
    /// The plan to execute for this caller: the whole operation's, or
    /// the one without the selections they may not see (`None` when no
    /// root field is left, or for introspection).
    pub fn plan(&self) -> Option<&CachedPlan> {
        match &self.authorized {
            Some(variant) => variant.plan.as_ref(),
            None => self.operation.full_plan.as_ref(),
        }
    }
}

impl Deref for PreparedOperation {
    type Target = PreparedDocument;

    fn deref(&self) -> &PreparedDocument {
        &self.operation
    }
}

/// Prepares `request` on `supergraph`: from the cache, or on the pool.
pub async fn prepare(
    service: &GraphqlService,
    supergraph: &Arc<Supergraph>,
    request: &GraphqlRequest,
) -> Result<PreparedOperation, RequestError> {
    let key = operation_key(&request.query, request.operation_name.as_deref());
    let cached = supergraph.caches.operation(&key);
    let cache_hit = cached.is_some();
    let operation = match cached {
        Some(hit) => hit,
        None => {
            let query: Arc<str> = Arc::from(request.query.as_str());
            prepare_on_pool(
                &service.planning,
                supergraph,
                key,
                query,
                request.operation_name.clone(),
                service.settings.limits,
            )
            .await?
        }
    };
    let definitions = operation
        .normalized
        .executable_operation()
        .variable_definitions
        .as_deref()
        .unwrap_or_default();
    let variables = variables::coerce(&request.variables, definitions, &supergraph.input_types)
        .map_err(RequestError::VariableValues)?;
    let authorized = authorize::authorize(
        &service.planning,
        supergraph,
        &operation,
        request.principal.as_ref(),
        &variables,
    )
    .await?;
    Ok(PreparedOperation {
        operation,
        variables,
        cache_hit,
        authorized,
    })
}

/// Prepares a document on the planning pool and caches it.
pub async fn prepare_on_pool(
    pool: &PlanningPool,
    supergraph: &Arc<Supergraph>,
    key: OperationKey,
    query: Arc<str>,
    operation_name: Option<String>,
    limits: Limits,
) -> Result<Arc<PreparedDocument>, RequestError> {
    let supergraph = Arc::clone(supergraph);
    let request_span = Span::current();
    pool.run(move |budget| {
        let prepared =
            Arc::new(request_span.in_scope(|| {
                prepare_document(&supergraph, query, operation_name, &limits, budget)
            })?);
        budget.check()?;
        supergraph
            .caches
            .operations
            .insert(key, Arc::clone(&prepared));
        Ok(prepared)
    })
    .await
}

/// Prepares the hottest operations of `previous` against `next` (one at a
/// time, so live requests keep the rest of the pool). Stops starting new
/// ones once one planning budget has passed, so a reload is delayed by at
/// most two budgets. Returns how many were prepared.
pub async fn warm_up(
    pool: &PlanningPool,
    previous: &Supergraph,
    next: &Arc<Supergraph>,
    limits: Limits,
    count: usize,
) -> usize {
    let started = std::time::Instant::now();
    let mut warmed = 0;
    for (query, operation_name) in previous.caches.hottest(count) {
        if started.elapsed() >= pool.settings().timeout {
            tracing::info!(warmed, "cache warm-up stopped at its time budget");
            break;
        }
        let key = operation_key(&query, operation_name.as_deref());
        if prepare_on_pool(pool, next, key, query, operation_name, limits)
            .await
            .is_ok()
        {
            warmed += 1;
        }
    }
    warmed
}

/// The expensive steps, on a pool thread, checking the budget between them.
fn prepare_document(
    supergraph: &Supergraph,
    query: Arc<str>,
    operation_name: Option<String>,
    limits: &Limits,
    budget: &Budget,
) -> Result<PreparedDocument, RequestError> {
    let document = traced(otel_span!("graphql parse"), || {
        parse(&query, limits.max_tokens)
    })?;
    let operation = traced(otel_span!("graphql validate"), || {
        let operation = pick_operation(&document, operation_name.as_deref())?;
        limits::check(&document, limits)?;
        budget.check()?;
        validate_document(supergraph, &document)?;
        budget.check()?;
        Ok(operation)
    })?;
    let kind = operation_kind(operation);
    let introspection_only = match introspection_fields(operation) {
        RootIntrospection::None => false,
        RootIntrospection::Only => true,
        RootIntrospection::Mixed => {
            return Err(RequestError::Validation(
                "`__schema` and `__type` cannot be mixed with other root fields; send them in their own operation".to_owned(),
            ));
        }
    };
    let plan_span = otel_span!(
        "graphql plan",
        graphql.plan.cache_hit = tracing::field::Empty
    );
    let (normalized, normalized_len, plan, plan_cache_hit) = traced(plan_span.clone(), || {
        let normalized = normalize_operation(
            &supergraph.planner.supergraph,
            &document,
            operation_name.as_deref(),
        )
        .map_err(|e| RequestError::Validation(e.to_string()))?;
        budget.check()?;
        let normalized_text = normalized.executable_operation().to_string();
        let normalized_len = normalized_text.len();
        let (plan, plan_cache_hit) = if introspection_only {
            (None, None)
        } else {
            let (plan, hit) =
                plan_cached(supergraph, &normalized, normalized_text, budget, &plan_span)?;
            (Some(plan), Some(hit))
        };
        Ok((normalized, normalized_len, plan, plan_cache_hit))
    })?;
    let guards = if introspection_only {
        OperationGuards::default()
    } else {
        authorize::guards(supergraph, &normalized, &kind)
    };
    Ok(PreparedDocument {
        kind,
        normalized,
        full_plan: plan,
        weight: PreparedDocument::estimate_weight(query.len(), normalized_len, guards.guards.len()),
        guards,
        authorized: AuthorizedVariants::default(),
        introspection_only,
        document,
        query,
        operation_name,
        hits: AtomicU64::new(0),
        plan_cache_hit,
    })
}

/// Runs one preparation step in `span`; its error is recorded there.
fn traced<T>(
    span: Span,
    step: impl FnOnce() -> Result<T, RequestError>,
) -> Result<T, RequestError> {
    let result = span.in_scope(step);
    if let Err(error) = &result {
        spans::fail(&span, error.code(), &error.to_string());
    }
    result
}

fn parse(query: &str, max_tokens: usize) -> Result<Document<'static, String>, RequestError> {
    safe_parse_operation_with_token_limit(query, max_tokens).map_err(|error| {
        let text = error.to_string();
        if text.contains("Token limit exceeded") {
            RequestError::LimitExceeded {
                code: "MAX_TOKENS_EXCEEDED",
                message: format!(
                    "the operation has more than {max_tokens} tokens, above the limit"
                ),
            }
        } else {
            RequestError::Parse(text.trim().replace('\n', " "))
        }
    })
}

/// The operation to run: the named one, or the only one.
pub(crate) fn pick_operation<'d>(
    document: &'d Document<'static, String>,
    name: Option<&str>,
) -> Result<&'d OperationDefinition<'static, String>, RequestError> {
    let operations: Vec<_> = document
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::Operation(op) => Some(op),
            _ => None,
        })
        .collect();
    match name {
        Some(name) => operations
            .into_iter()
            .find(|op| operation_name(op) == Some(name))
            .ok_or_else(|| RequestError::Validation(format!("unknown operation named {name:?}"))),
        None if operations.len() == 1 => Ok(operations[0]),
        None if operations.is_empty() => Err(RequestError::Validation(
            "the document contains no operation".to_owned(),
        )),
        None => Err(RequestError::Validation(
            "the document contains several operations: set operationName".to_owned(),
        )),
    }
}

fn operation_name<'o>(op: &'o OperationDefinition<'static, String>) -> Option<&'o str> {
    match op {
        OperationDefinition::Query(q) => q.name.as_deref(),
        OperationDefinition::Mutation(m) => m.name.as_deref(),
        OperationDefinition::Subscription(s) => s.name.as_deref(),
        OperationDefinition::SelectionSet(_) => None,
    }
}

pub(crate) fn operation_kind(op: &OperationDefinition<'static, String>) -> OperationKind {
    match op {
        OperationDefinition::Mutation(_) => OperationKind::Mutation,
        OperationDefinition::Subscription(_) => OperationKind::Subscription,
        _ => OperationKind::Query,
    }
}

enum RootIntrospection {
    None,
    Only,
    Mixed,
}

/// Whether the root selects `__schema` / `__type`, and whether alone.
fn introspection_fields(op: &OperationDefinition<'static, String>) -> RootIntrospection {
    let root = limits::selection_set(op);
    let (mut meta, mut other) = (false, false);
    for item in &root.items {
        match item {
            Selection::Field(f) if f.name == "__schema" || f.name == "__type" => meta = true,
            Selection::Field(f) if f.name == "__typename" => {}
            _ => other = true,
        }
    }
    match (meta, other) {
        (false, _) => RootIntrospection::None,
        (true, false) => RootIntrospection::Only,
        (true, true) => RootIntrospection::Mixed,
    }
}

/// The plan of `normalized`, from the plan cache or the planner (which
/// stops at the budget's deadline).
fn plan_cached(
    supergraph: &Supergraph,
    normalized: &NormalizedDocument,
    normalized_text: String,
    budget: &Budget,
    span: &Span,
) -> Result<(CachedPlan, bool), RequestError> {
    let key = (normalized_text, normalized.operation_name.clone());
    let hit = supergraph.caches.plans.get(&key);
    span.record("graphql.plan.cache_hit", hit.is_some());
    if let Some(hit) = hit {
        return Ok((hit.plan, true));
    }
    let plan = supergraph
        .planner
        .plan_from_normalized_operation(
            normalized.executable_operation(),
            PlannerOverrideContext::default(),
            &budget.planner_token(),
        )
        .map(Arc::new)
        .map_err(|error| match error {
            PlannerError::CancellationError(_) => budget.timed_out(),
            other => RequestError::Planning(other.to_string()),
        })?;
    budget.check()?;
    supergraph
        .caches
        .plans
        .insert(key, WeighedPlan::new(Arc::clone(&plan)));
    Ok((plan, false))
}
