//! `@defer` with incremental delivery over multipart HTTP, in the format
//! Apollo Router and Hive Router serve (`multipart/mixed;
//! deferSpec=20220824`): the primary result first with `hasNext: true`,
//! then one part per deferred fragment with its `incremental` entries.
//!
//! The operation is split ([`split`]) into a primary operation and one
//! operation per deferred fragment, each planned and cached like any
//! other; the deferred ones run concurrently once the primary result has
//! been sent. A deferred operation selects the path down to its fragment
//! again, so its ancestor fields are fetched a second time: the price of
//! planning each part on its own (the query planner emits no `Defer`
//! nodes). Clients that do not accept `multipart/mixed` get everything
//! inline in one response, as the incremental-delivery RFC allows.

mod incremental;
mod multipart;
pub mod split;

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use hive_router_query_planner::utils::parsing::safe_parse_operation_with_token_limit;
use http::header::ACCEPT;
use http::{Request, Response};
use serde_json::{Map, Value, json};

use super::error::RequestError;
use super::handler::run;
use super::prepare::{PreparedOperation, prepare};
use super::request::GraphqlRequest;
use super::service::GraphqlService;
use super::supergraph::Supergraph;
use crate::body::GatewayBody;
use crate::context::RequestContext;
pub use split::DeferredPart;

/// Whether the query text may use `@defer` (a cheap test before parsing).
pub fn mentions_defer(query: &str) -> bool {
    query.contains("@defer")
}

/// Whether the client accepts incremental delivery.
pub fn accepts_multipart<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("multipart/mixed"))
}

/// Replaces the request's query with its primary operation (every
/// `@defer` removed) and returns the deferred parts: none unless
/// `incremental`. Runs on the planning pool, under its time budget.
pub async fn split_request(
    service: &GraphqlService,
    request: &mut GraphqlRequest,
    incremental: bool,
) -> Result<Vec<DeferredPart>, RequestError> {
    let query: Arc<str> = Arc::from(request.query.as_str());
    let operation_name = request.operation_name.clone();
    let variables = request.variables.clone();
    let max_tokens = service.settings.limits.max_tokens;
    let split = service
        .planning
        .run(move |_budget| {
            // A document that does not parse goes to `prepare` as it is,
            // which reports the syntax error.
            let Ok(document) = safe_parse_operation_with_token_limit(&query, max_tokens) else {
                return Ok(None);
            };
            split::split(
                &document,
                operation_name.as_deref(),
                &variables,
                incremental,
            )
            .map(Some)
            .map_err(|error| RequestError::LimitExceeded {
                code: "MAX_DEFERRED_EXCEEDED",
                message: error.to_string(),
            })
        })
        .await?;
    Ok(match split {
        Some(split) => {
            request.query = split.primary;
            split.deferred
        }
        None => Vec::new(),
    })
}

/// Runs the primary operation, then streams the deferred parts.
pub async fn respond(
    service: Arc<GraphqlService>,
    supergraph: Arc<Supergraph>,
    primary: PreparedOperation,
    request: GraphqlRequest,
    deferred: Vec<DeferredPart>,
    ctx: RequestContext,
) -> Result<Response<GatewayBody>, RequestError> {
    let (data, errors) = run(&supergraph, &primary, &service.settings, &ctx).await?;
    let has_next = !data.is_null();
    let mut first = json!({ "data": data, "hasNext": has_next });
    if !errors.is_empty() {
        first["errors"] = json!(errors);
    }
    if !has_next {
        return Ok(multipart::response(futures::stream::iter([first]).boxed()));
    }
    let primary_data = Arc::new(data);
    let total = deferred.len();
    let pending: FuturesUnordered<_> = deferred
        .into_iter()
        .map(|part| {
            deferred_part(
                Arc::clone(&service),
                Arc::clone(&supergraph),
                Arc::clone(&primary_data),
                GraphqlRequest {
                    query: part.query.clone(),
                    operation_name: request.operation_name.clone(),
                    variables: request.variables.clone(),
                    extensions: Map::new(),
                    principal: request.principal.clone(),
                },
                part,
                ctx.clone(),
            )
        })
        .collect();
    let rest = pending.enumerate().map(
        move |(index, entries)| json!({ "hasNext": index + 1 < total, "incremental": entries }),
    );
    Ok(multipart::response(
        futures::stream::iter([first]).chain(rest).boxed(),
    ))
}

/// Prepares and runs one deferred part; its `incremental` entries.
async fn deferred_part(
    service: Arc<GraphqlService>,
    supergraph: Arc<Supergraph>,
    primary: Arc<Value>,
    request: GraphqlRequest,
    part: DeferredPart,
    ctx: RequestContext,
) -> Vec<Value> {
    let outcome = async {
        let prepared = prepare(&service, &supergraph, &request).await?;
        run(&supergraph, &prepared, &service.settings, &ctx).await
    }
    .await;
    let (data, errors) = match outcome {
        Ok(result) => result,
        Err(error) => (
            Value::Null,
            vec![super::error::GraphqlError::new(
                error.code(),
                error.public_message(),
            )],
        ),
    };
    incremental::entries(&primary, &data, &part, errors)
}
