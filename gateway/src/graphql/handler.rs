//! The `/graphql` endpoint: GraphiQL for browsers, then read → persisted
//! query → prepare →
//! execute → shape, answering with `{data, errors}` in the media type the
//! client accepts. Request-level failures use the same GraphQL error
//! shape, through [`GatewayError`].

use hive_router_query_planner::ast::selection_set::SelectionSet;
use hive_router_query_planner::state::supergraph_state::OperationKind;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use serde_json::{Map, Value, json};

use super::error::{GraphqlError, RequestError};
use super::execute::{ExecutionOptions, execute_plan};
use super::prepare::{PreparedOperation, prepare};
use super::request::{self, response_media_type, wants_html};
use super::response::Projection;
use super::service::GraphqlService;
use super::supergraph::Supergraph;
use super::{defer, graphiql, introspection, metrics, subscribe};
use crate::body::{self, GatewayBody};
pub use crate::config::model::GraphqlSettings;
use crate::context::{Principal, RequestContext};
use crate::edge_error::GatewayError;
use crate::upstream::outbound::Outbound;

/// Serves one request on the GraphQL endpoint.
pub async fn handle(
    request: Request<GatewayBody>,
    mut ctx: RequestContext,
    service: &GraphqlService,
) -> Result<Response<GatewayBody>, GatewayError> {
    let outbound = Outbound::new(&ctx, request.headers(), request.uri())
        .with_client_headers(request.headers());
    ctx.outbound = Some(std::sync::Arc::new(outbound));
    let media = response_media_type(&request);
    let settings = &service.settings;
    if settings.console && wants_html(&request) {
        return Ok(graphiql::page(&settings.path, request.uri().query()));
    }
    if crate::websocket::is_upgrade(&request) {
        return Ok(subscribe::transport_ws::accept(request, ctx));
    }
    let event_stream = subscribe::sse::wants_event_stream(&request);
    let reject = |error: RequestError| {
        metrics::request_error(&ctx, &error);
        if event_stream {
            error.into_stream_error()
        } else {
            error.into_gateway_error(media)
        }
    };
    let supergraph = service
        .current()
        .ok_or_else(|| reject(RequestError::NotReady))?;
    let is_get = request.method() == Method::GET;
    let incremental = defer::accepts_multipart(&request) && !event_stream;
    let principal = request.extensions().get::<Principal>().cloned();
    let mut graphql = request::read(request, settings.limits.max_body_bytes)
        .await
        .map_err(reject)?;
    graphql.principal = principal;
    service.persisted.resolve(&mut graphql).map_err(reject)?;
    let deferred = if defer::mentions_defer(&graphql.query) {
        defer::split_request(service, &mut graphql, incremental)
            .await
            .map_err(reject)?
    } else {
        Vec::new()
    };
    let prepared = prepare(service, &supergraph, &graphql)
        .await
        .map_err(reject)?;
    if prepared.kind == OperationKind::Mutation && is_get {
        return Err(reject(RequestError::MutationOverGet));
    }
    if event_stream {
        metrics::operation(&ctx, &prepared);
        return serve_event_stream(supergraph, prepared, settings, &ctx)
            .await
            .map_err(reject);
    }
    if prepared.kind == OperationKind::Subscription {
        return Err(reject(RequestError::BadRequest(
            "subscriptions are served over WebSocket (graphql-transport-ws) or SSE (Accept: text/event-stream)".to_owned(),
        )));
    }
    metrics::operation(&ctx, &prepared);
    if !deferred.is_empty()
        && prepared.kind == OperationKind::Query
        && let Some(service) = ctx.snapshot.graphql.clone()
    {
        return defer::respond(
            service,
            supergraph,
            prepared,
            graphql,
            deferred,
            ctx.clone(),
        )
        .await
        .map_err(reject);
    }
    let (data, errors) = run_to_bytes(&supergraph, &prepared, settings, &ctx)
        .await
        .map_err(reject)?;
    Ok(render(&data, errors, media))
}

/// Any operation over SSE: a subscription's events, or one result.
async fn serve_event_stream(
    supergraph: std::sync::Arc<Supergraph>,
    prepared: PreparedOperation,
    settings: &GraphqlSettings,
    ctx: &RequestContext,
) -> Result<Response<GatewayBody>, RequestError> {
    let events: subscribe::ResponseStream = if prepared.kind == OperationKind::Subscription {
        let options = ExecutionOptions::for_request(settings, ctx);
        subscribe::start(supergraph, std::sync::Arc::new(prepared), options).await?
    } else {
        let (data, errors) = run(&supergraph, &prepared, settings, ctx).await?;
        let payload = if errors.is_empty() {
            json!({ "data": data })
        } else {
            json!({ "data": data, "errors": errors })
        };
        Box::pin(futures::stream::once(async move { payload }))
    };
    let heartbeat = ctx.snapshot.config.server.streams.sse_heartbeat;
    Ok(subscribe::sse::response(events, &crate::drain::current())
        .map(|body| crate::body::boxed(crate::sse_heartbeat::SseHeartbeat::new(body, heartbeat))))
}

/// What execution gives before shaping: introspection answers shaped
/// already; a plan's merged tree still to be projected.
enum Executed {
    Shaped(Value, Vec<GraphqlError>),
    Merged(Value, Vec<GraphqlError>),
}

async fn execute(
    supergraph: &Supergraph,
    prepared: &PreparedOperation,
    settings: &GraphqlSettings,
    ctx: &RequestContext,
) -> Result<Executed, RequestError> {
    if prepared.introspection_only {
        if !settings.introspection {
            return Err(RequestError::IntrospectionDisabled);
        }
        let (data, errors) = introspection::execute(supergraph, prepared).await?;
        return Ok(Executed::Shaped(data, errors));
    }
    let options = ExecutionOptions::for_request(settings, ctx);
    let (merged, errors) = match (prepared.plan(), &prepared.authorized) {
        (Some(plan), _) => execute_plan(supergraph, plan, &prepared.variables, &options).await,
        // Every root field was removed: nothing to fetch.
        (None, Some(_)) => (Value::Object(Map::new()), Vec::new()),
        (None, None) => {
            return Err(RequestError::Planning(
                "the operation has no plan".to_owned(),
            ));
        }
    };
    Ok(Executed::Merged(merged, errors))
}

/// Executes a prepared query or mutation and shapes its data.
pub(crate) async fn run(
    supergraph: &Supergraph,
    prepared: &PreparedOperation,
    settings: &GraphqlSettings,
    ctx: &RequestContext,
) -> Result<(Value, Vec<GraphqlError>), RequestError> {
    match execute(supergraph, prepared, settings, ctx).await? {
        Executed::Shaped(data, errors) => Ok((data, errors)),
        Executed::Merged(merged, errors) => {
            let shaped = shape(supergraph, prepared, &merged, errors)?;
            metrics::errors(ctx, &shaped.1);
            Ok(shaped)
        }
    }
}

/// [`run`], with the data written straight to JSON bytes (no shaped
/// tree: see [`Projection::write_root`]).
async fn run_to_bytes(
    supergraph: &Supergraph,
    prepared: &PreparedOperation,
    settings: &GraphqlSettings,
    ctx: &RequestContext,
) -> Result<(Vec<u8>, Vec<GraphqlError>), RequestError> {
    match execute(supergraph, prepared, settings, ctx).await? {
        Executed::Shaped(data, errors) => {
            Ok((serde_json::to_vec(&data).unwrap_or_default(), errors))
        }
        Executed::Merged(merged, errors) => {
            let shaped = projecting(
                supergraph,
                prepared,
                errors,
                |projection, root, selections| {
                    let mut bytes = Vec::with_capacity(1024);
                    projection.write_root(&merged, root, selections, &mut bytes);
                    bytes
                },
            )?;
            metrics::errors(ctx, &shaped.1);
            Ok(shaped)
        }
    }
}

/// Shapes a merged data tree into the client's response data. The
/// authorization errors come first; removed fields are projected as nulls.
pub(crate) fn shape(
    supergraph: &Supergraph,
    prepared: &PreparedOperation,
    merged: &Value,
    fetch_errors: Vec<GraphqlError>,
) -> Result<(Value, Vec<GraphqlError>), RequestError> {
    projecting(
        supergraph,
        prepared,
        fetch_errors,
        |projection, root, selections| projection.project_root(merged, root, selections),
    )
}

/// Runs `project` with the operation's projection, its root type and
/// selections; gives its result and the errors (authorization's first).
fn projecting<R>(
    supergraph: &Supergraph,
    prepared: &PreparedOperation,
    fetch_errors: Vec<GraphqlError>,
    project: impl FnOnce(&mut Projection<'_>, &str, &SelectionSet) -> R,
) -> Result<(R, Vec<GraphqlError>), RequestError> {
    let (mut errors, withheld) = match &prepared.authorized {
        Some(variant) => (variant.errors.clone(), variant.withheld.as_slice()),
        None => (Vec::new(), &[][..]),
    };
    errors.extend(fetch_errors);
    let state = &supergraph.planner.supergraph;
    let root_type = state
        .root_type_name(Some(&prepared.kind))
        .map_err(|e| RequestError::Internal(format!("the root type: {e}")))?;
    let mut projection = Projection {
        types: &supergraph.response_types,
        variables: &prepared.variables,
        withheld,
        errors: &mut errors,
    };
    let operation = prepared.normalized.executable_operation();
    let data = project(&mut projection, root_type, &operation.selection_set);
    Ok((data, errors))
}

/// `{"errors": [..], "data": ..}` with status 200, `data` already JSON.
pub(crate) fn render(
    data: &[u8],
    errors: Vec<GraphqlError>,
    media: &'static str,
) -> Response<GatewayBody> {
    // Straight into a byte buffer: `to_string` would go through the
    // formatting machinery, one `write_str` per token.
    let mut bytes = Vec::with_capacity(data.len() + 64);
    bytes.push(b'{');
    if !errors.is_empty() {
        bytes.extend_from_slice(b"\"errors\":");
        let _ = serde_json::to_writer(&mut bytes, &errors);
        bytes.push(b',');
    }
    bytes.extend_from_slice(b"\"data\":");
    bytes.extend_from_slice(data);
    bytes.push(b'}');
    let mut response = Response::new(body::full(bytes));
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(media));
    response
}
