//! Subscriptions. The plan of a subscription is a `Subscription` node
//! (the primary fetch, a subscription at the owning subgraph) optionally
//! followed by fetches of entity fields from other subgraphs. We open the
//! primary over graphql-transport-ws, and for every event run the rest of
//! the plan on the event's data and shape it like any response. Clients
//! reach this over graphql-transport-ws ([`transport_ws`]) or SSE
//! ([`sse`]).

pub mod sse;
pub mod transport_ws;
mod upstream;

use std::sync::Arc;

use futures::stream::{BoxStream, StreamExt};
use hive_router_query_planner::planner::plan_nodes::{FetchNode, PlanNode};
use serde_json::{Map, Value, json};

use super::error::{GraphqlError, RequestError};
use super::execute::{ExecutionOptions, execute_nodes};
use super::handler::shape;
use super::prepare::PreparedOperation;
use super::supergraph::Supergraph;

/// Complete responses (`{"data":..,"errors":..}`), one per event.
pub type ResponseStream = BoxStream<'static, Value>;

/// Starts a prepared subscription.
pub async fn start(
    supergraph: Arc<Supergraph>,
    prepared: Arc<PreparedOperation>,
    options: ExecutionOptions,
) -> Result<ResponseStream, RequestError> {
    if let (None, Some(variant)) = (prepared.plan(), &prepared.authorized) {
        // Authorization removed the subscription's root field: one result
        // with its error, then the end; nothing is opened upstream.
        let payload = json!({ "data": null, "errors": variant.errors });
        return Ok(futures::stream::once(async move { payload }).boxed());
    }
    let (primary, _) = split_plan(&prepared)?;
    let client = supergraph
        .subgraphs
        .get(&primary.service_name)
        .ok_or_else(|| {
            RequestError::Planning(format!("unknown subgraph {:?}", primary.service_name))
        })?;
    let variables: Map<String, Value> = primary
        .variable_usages
        .iter()
        .flatten()
        .filter_map(|name| {
            prepared
                .variables
                .get(name)
                .map(|v| (name.clone(), v.clone()))
        })
        .collect();
    let query = &primary.operation.document_str;
    let events = upstream::subscribe(client, &options, query, variables)
        .await
        .map_err(|detail| {
            tracing::warn!(
                request_id = %options.request_id,
                subgraph = %primary.service_name,
                detail,
                "subscribing at the subgraph failed"
            );
            RequestError::SubgraphUnavailable
        })?;
    let service = primary.service_name.clone();
    Ok(events
        .then(move |event| {
            let (supergraph, prepared, options, service) = (
                Arc::clone(&supergraph),
                Arc::clone(&prepared),
                options.clone(),
                service.clone(),
            );
            async move { resolve_event(&supergraph, &prepared, &options, &service, event).await }
        })
        .boxed())
}

/// The primary subscription fetch and the nodes that follow it.
fn split_plan(prepared: &PreparedOperation) -> Result<(&FetchNode, &[PlanNode]), RequestError> {
    let no_plan = || RequestError::Planning("the subscription has no subscription node".to_owned());
    let node = prepared
        .plan()
        .and_then(|p| p.node.as_ref())
        .ok_or_else(no_plan)?;
    match node {
        PlanNode::Subscription(s) => Ok((&s.primary, &[])),
        PlanNode::Sequence(seq) => match seq.nodes.split_first() {
            Some((PlanNode::Subscription(s), rest)) => Ok((&s.primary, rest)),
            _ => Err(no_plan()),
        },
        _ => Err(no_plan()),
    }
}

async fn resolve_event(
    supergraph: &Supergraph,
    prepared: &PreparedOperation,
    options: &ExecutionOptions,
    service: &str,
    event: Result<upstream::Event, GraphqlError>,
) -> Value {
    let event = match event {
        Ok(event) => event,
        Err(error) => return json!({ "data": null, "errors": [error] }),
    };
    let Ok((_, rest)) = split_plan(prepared) else {
        return json!({ "data": null });
    };
    let data = event.data.unwrap_or(Value::Object(Map::new()));
    let (merged, mut errors) =
        execute_nodes(supergraph, rest, data, &prepared.variables, options).await;
    errors.extend(event.errors.into_iter().map(|message| {
        if options.expose_subgraph_errors {
            GraphqlError::new("DOWNSTREAM_SERVICE_ERROR", message)
                .with_extension("serviceName", service)
        } else {
            GraphqlError::new("DOWNSTREAM_SERVICE_ERROR", "Subgraph errors redacted")
        }
    }));
    match shape(supergraph, prepared, &merged, errors) {
        Ok((data, errors)) if errors.is_empty() => json!({ "data": data }),
        Ok((data, errors)) => json!({ "data": data, "errors": errors }),
        Err(error) => {
            json!({ "data": null, "errors": [GraphqlError::new(error.code(), error.public_message())] })
        }
    }
}
