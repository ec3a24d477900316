//! Declarative composition: one client request, many backend calls, one
//! composed JSON response (the seed's order-details BFF, generalised).
//!
//! A route's `compose:` block is compiled by `config` into a plain
//! `ComposeSpec`; `Snapshot::build` makes it a [`ComposePlan`]: its calls
//! (REST, GraphQL, or unary gRPC through the bridge's transcoder), the
//! call graph derived from their templates (`/v1/users/{order.customer_id}`
//! waits for `order`), a response template, failure policy, timeouts,
//! caches and a coalescer. [`handle`]
//! runs the plan for one request: every call starts the moment its inputs
//! are ready, required failures end the request with the right status,
//! optional ones leave `null` and an entry in `_meta.errors`.
//!
//! Stages: `config::compile::compose::build` (config time) → [`plan`]
//! (snapshot time: pools, caches, coalescer) → `execute` (the DAG driver) → `call`
//! (cache, coalesce) → `fetch` (the upstream pool) → `response`.
//! The user guide is docs/composition.md.

pub mod cache;
mod call;
pub mod coalesce;
pub mod error;
mod execute;
mod fetch;
pub mod plan;
mod request;
mod response;

pub use crate::template::{self, eval, shape, value};
pub use error::{CallFailure, ComposeError};
pub use plan::ComposePlan;
pub use response::{CACHE_HEADER, PARTIAL_HEADER};

use std::sync::Arc;

use http::{Request, Response};

use crate::body::GatewayBody;
use crate::context::RequestContext;
use crate::edge_error::GatewayError;
use crate::upstream::outbound::Outbound;

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
    let outbound = Arc::new(
        Outbound::new(&ctx, request.headers(), request.uri())
            .with_client_headers(request.headers()),
    );
    let env = call::CallEnv {
        outbound: &outbound,
        propagate: &ctx.snapshot.config.propagate,
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
