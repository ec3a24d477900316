//! Declarative composition: one client request, many backend calls, one
//! composed JSON response (the seed's order-details BFF, generalised).
//!
//! A route's `compose:` block is compiled into a [`ComposePlan`]: its calls
//! (REST, GraphQL, or unary gRPC through the bridge's transcoder), the
//! call graph derived from their templates (`/v1/users/{order.customer_id}`
//! waits for `order`), a response template, failure policy, timeouts,
//! caches and a coalescer. [`handle`]
//! runs the plan for one request: every call starts the moment its inputs
//! are ready, required failures end the request with the right status,
//! optional ones leave `null` and an entry in `_meta.errors`.
//!
//! Stages: [`build`] (config time) → `execute` (the DAG driver) → `call`
//! (cache, coalesce) → `fetch` (the upstream pool) → `response`.
//! The user guide is docs/composition.md.

pub mod build;
pub mod cache;
mod call;
pub mod coalesce;
pub mod dag;
pub mod error;
pub mod eval;
mod execute;
mod fetch;
pub mod plan;
mod request;
mod response;
pub mod shape;
pub mod template;
pub mod value;

pub use build::{ComposeInput, build};
pub use error::{CallFailure, ComposeError};
pub use plan::ComposePlan;
pub use response::{CACHE_HEADER, PARTIAL_HEADER};

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue, Request, Response};

use crate::body::GatewayBody;
use crate::context::{RequestContext, X_REQUEST_ID};
use crate::edge_error::GatewayError;

/// Runs `plan` for one request. Dropping the returned future (the client
/// went away) cancels every outstanding call.
pub async fn handle(
    request: Request<GatewayBody>,
    ctx: RequestContext,
    plan: &ComposePlan,
) -> Result<Response<GatewayBody>, GatewayError> {
    let cache_key = plan
        .response_cache
        .as_ref()
        .map(|cache| cache.key(&ctx.params, request.headers()));
    let metrics = ctx.exchange.as_ref().and_then(|e| e.observers.metrics());
    if let (Some(cache), Some(key)) = (&plan.response_cache, &cache_key) {
        let cached = cache.get(key).await;
        if let Some(metrics) = metrics {
            metrics.compose_response_cache(&ctx.route.name, cached.is_some());
        }
        if let Some(body) = cached {
            return Ok(response::json_response(body, false, true));
        }
    }
    let forwarded = forwarded_headers(&request, &ctx);
    let env = call::CallEnv {
        upstreams: &ctx.snapshot.upstreams,
        forwarded: &forwarded,
        coalescer: &plan.coalescer,
        metrics: metrics.map(|metrics| (metrics, ctx.route.name.as_str())),
    };
    let execution = execute::execute(plan, &ctx.params, &env).await?;
    let (body, partial) = response::render_body(plan, &execution, &ctx.params);
    if let (Some(cache), Some(key), false) = (&plan.response_cache, cache_key, partial) {
        cache.store(key, body.clone()).await;
    }
    Ok(response::json_response(body, partial, false))
}

/// `authorization` from the client, the forwarding headers and the
/// request id.
fn forwarded_headers(request: &Request<GatewayBody>, ctx: &RequestContext) -> HeaderMap {
    let mut headers = crate::proxy::forwarding_for(ctx, request.headers(), request.uri());
    if let Some(auth) = request.headers().get(AUTHORIZATION) {
        headers.insert(AUTHORIZATION, auth.clone());
    }
    if let Ok(id) = HeaderValue::from_str(ctx.request_id.as_str()) {
        headers.insert(X_REQUEST_ID, id);
    }
    headers
}
