//! Which policy layers a route gets: the one function to extend when a
//! policy is added (see ARCHITECTURE.md, "Adding a policy layer").

use super::PolicyLayer;
use crate::config::model::RouteSpec;

/// The route's policy layers, outermost first, from its config. No policy
/// exists yet, so every route's list is empty; auth, CORS, rate limits and
/// retries add their layer here, each from its own key of `route`.
pub fn policy_layers(route: &RouteSpec) -> Vec<PolicyLayer> {
    let _ = route;
    Vec::new()
}
