//! From request to plan: parse (with the token limit), pick the
//! operation, check the protection limits, validate against the public
//! schema, normalize, then plan — through the plan cache, keyed by the
//! normalized operation and its name. Variables get their defaults here.

use std::sync::Arc;

use graphql_tools::parser::query::{Definition, Document, OperationDefinition, Selection};
use graphql_tools::validation::rules::default_rules_validation_plan;
use graphql_tools::validation::validate::validate;
use hive_router_query_planner::ast::document::NormalizedDocument;
use hive_router_query_planner::ast::normalization::normalize_operation;
use hive_router_query_planner::ast::value::Value as PlannerValue;
use hive_router_query_planner::graph::PlannerOverrideContext;
use hive_router_query_planner::state::supergraph_state::{OperationKind, TypeNode};
use hive_router_query_planner::utils::cancellation::CancellationToken;
use hive_router_query_planner::utils::parsing::safe_parse_operation_with_token_limit;
use serde_json::{Map, Value};

use super::error::RequestError;
use super::limits::{self, Limits};
use super::request::GraphqlRequest;
use super::supergraph::{CachedPlan, Supergraph};

/// An operation ready to execute.
pub struct PreparedOperation {
    pub kind: OperationKind,
    pub normalized: NormalizedDocument,
    /// `None` for introspection-only operations, which the gateway answers.
    pub plan: Option<CachedPlan>,
    /// The request's variables plus the operation's defaults.
    pub variables: Map<String, Value>,
    /// Whether the operation selects only `__schema`, `__type` or `__typename`.
    pub introspection_only: bool,
    pub document: Document<'static, String>,
}

/// Parses, checks, validates, normalizes and plans `request`.
pub async fn prepare(
    supergraph: &Supergraph,
    request: &GraphqlRequest,
    limits: &Limits,
) -> Result<PreparedOperation, RequestError> {
    let document = parse(&request.query, limits.max_tokens)?;
    let operation = pick_operation(&document, request.operation_name.as_deref())?;
    limits::check(&document, operation, limits)?;
    validate_document(supergraph, &document)?;
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
    let normalized = guarded(|| {
        normalize_operation(
            &supergraph.planner.supergraph,
            &document,
            request.operation_name.as_deref(),
        )
        .map_err(|e| RequestError::Validation(e.to_string()))
    })?;
    let variables = with_defaults(&request.variables, &normalized)?;
    let plan = if introspection_only {
        None
    } else {
        Some(plan_cached(supergraph, &normalized).await?)
    };
    Ok(PreparedOperation {
        kind,
        normalized,
        plan,
        variables,
        introspection_only,
        document,
    })
}

/// The specification's validation rules, against the public schema.
fn validate_document(
    supergraph: &Supergraph,
    document: &Document<'static, String>,
) -> Result<(), RequestError> {
    let schema = &supergraph.planner.consumer_schema.document;
    let errors = validate(schema, document, &default_rules_validation_plan());
    if errors.is_empty() {
        return Ok(());
    }
    let messages: Vec<String> = errors.into_iter().map(|e| e.message).collect();
    Err(RequestError::Validation(messages.join("; ")))
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

async fn plan_cached(
    supergraph: &Supergraph,
    normalized: &NormalizedDocument,
) -> Result<CachedPlan, RequestError> {
    let operation = normalized.executable_operation();
    let key = (operation.to_string(), normalized.operation_name.clone());
    supergraph
        .plan_cache
        .try_get_with(key, async {
            guarded(|| {
                supergraph
                    .planner
                    .plan_from_normalized_operation(
                        operation,
                        PlannerOverrideContext::default(),
                        &CancellationToken::new(),
                    )
                    .map(Arc::new)
                    .map_err(|e| RequestError::Planning(e.to_string()))
            })
            .map_err(|e| match e {
                RequestError::Planning(message) => message,
                other => other.to_string(),
            })
        })
        .await
        .map_err(|e| RequestError::Planning(e.as_ref().clone()))
}

/// Runs a planner step, turning a panic inside the planner into an error
/// for this request instead of a dropped connection.
fn guarded<T>(step: impl FnOnce() -> Result<T, RequestError>) -> Result<T, RequestError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)).unwrap_or_else(|_| {
        Err(RequestError::Planning(
            "the query planner failed on this operation".to_owned(),
        ))
    })
}

fn with_defaults(
    provided: &Map<String, Value>,
    normalized: &NormalizedDocument,
) -> Result<Map<String, Value>, RequestError> {
    let mut variables = provided.clone();
    for definition in normalized
        .executable_operation()
        .variable_definitions
        .iter()
        .flatten()
    {
        if variables.contains_key(&definition.name) {
            continue;
        }
        match &definition.default_value {
            Some(default) => {
                variables.insert(definition.name.clone(), to_json(default));
            }
            None if matches!(definition.variable_type, TypeNode::NonNull(_)) => {
                return Err(RequestError::Validation(format!(
                    "variable ${} of type {} was not provided",
                    definition.name, definition.variable_type
                )));
            }
            None => {}
        }
    }
    Ok(variables)
}

fn to_json(value: &PlannerValue) -> Value {
    match value {
        PlannerValue::Variable(_) | PlannerValue::Null => Value::Null,
        PlannerValue::Int(i) => Value::from(*i),
        PlannerValue::Float(f) => Value::from(*f),
        PlannerValue::String(s) | PlannerValue::Enum(s) => Value::from(s.as_str()),
        PlannerValue::Boolean(b) => Value::from(*b),
        PlannerValue::List(items) => Value::Array(items.iter().map(to_json).collect()),
        PlannerValue::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
    }
}
