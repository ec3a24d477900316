//! Which policy layers a route gets: the one function to extend when a
//! policy is added (see ARCHITECTURE.md, "Adding a policy layer").

mod concurrency_limiter;
mod emit;
mod load_shedding;
mod retry;

use super::PolicyLayer;
use crate::auth::{AuthLayer, AuthRuntime};
use crate::config::model::{RouteAction, RouteSpec};
use crate::ratelimit::RateLimits;

/// The runtime objects policy layers share, built with the snapshot (and
/// carried over reloads where their inputs did not change).
#[derive(Debug, Default)]
pub struct PolicyRuntime {
    /// The JWT providers' keys.
    pub auth: AuthRuntime,
    /// The rate limiters and their Redis store.
    pub rate_limits: RateLimits,
    /// The event bus (`emit:` publishes to it).
    pub events: Option<std::sync::Arc<crate::events::bus::EventBus>>,
}

/// The route's policy layers, outermost first, from its config.
///
/// The order is fixed, and each policy adds its layer in its slot:
/// 1. CORS: a preflight is answered before anything else runs, and every
///    answer (refusals included) carries the CORS headers;
/// 2. authentication (JWT, API keys): sets the request's
///    [`crate::context::Principal`]; on a route without it, the JWT
///    providers' claim headers are still removed from the client's request;
/// 3. rate limits: may key on the principal, so they come after it;
/// 4. load shedding (the route's concurrency limit);
/// 5. emit: publishes the route's `emit:` events after a response that
///    emits (inside the refusals above: a refused request emits nothing);
/// 6. retries: attach the route's retry policy, which the upstream pool
///    applies to each attempt.
pub fn policy_layers(route: &RouteSpec, runtime: &PolicyRuntime) -> Vec<PolicyLayer> {
    let mut layers = Vec::new();
    // 1. CORS.
    if let Some(policy) = &route.security.cors {
        layers.push(crate::cors::cors_policy(policy, route));
    }
    // 2. authentication; without it, the claim headers are still removed.
    if let Some(authenticator) = runtime.auth.for_route(route) {
        layers.push(PolicyLayer::new("auth", AuthLayer::new(authenticator)));
    } else if let Some(strip) = runtime.auth.claim_header_stripper() {
        layers.push(PolicyLayer::new("strip-claim-headers", strip));
    }
    // 3. rate limits: the global limits, then the route's own.
    layers.extend(runtime.rate_limits.layer_for(route));
    // 4. load shedding: the route's concurrency limit.
    if let Some(shedding) = &route.load_shedding {
        layers.push(load_shedding::load_shedding(route, shedding));
    }
    // 5. emit.
    layers.extend(emit::emit_layer(route, runtime.events.as_ref()));
    // 6. retries: every route that calls upstream.
    if !matches!(route.action, RouteAction::GraphiqlAsset) {
        layers.push(retry::retry_layer(route));
    }
    layers
}
