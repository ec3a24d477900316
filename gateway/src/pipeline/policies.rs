//! Which policy layers a route gets: the one function to extend when a
//! policy is added (see ARCHITECTURE.md, "Adding a policy layer").

mod retry;

use super::PolicyLayer;
use crate::config::model::{RouteAction, RouteSpec};

/// The route's policy layers, outermost first, from its config.
///
/// The order is fixed, and each policy adds its layer in its slot:
/// 1. CORS: a preflight is answered before anything else runs, and every
///    answer (refusals included) carries the CORS headers;
/// 2. authentication (JWT, API keys): sets the request's
///    [`crate::context::Principal`];
/// 3. rate limits: may key on the principal, so they come after it;
/// 4. load shedding (the route's concurrency limit);
/// 5. retries: attach the route's retry policy, which the upstream pool
///    applies to each attempt.
pub fn policy_layers(route: &RouteSpec) -> Vec<PolicyLayer> {
    let mut layers = Vec::new();
    // Slot 5: every route that calls upstream.
    if !matches!(route.action, RouteAction::GraphiqlAsset) {
        layers.push(retry::retry_layer(route));
    }
    layers
}
