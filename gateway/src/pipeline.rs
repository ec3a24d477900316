//! Each route's compiled pipeline: its policy layers, then its handler, as
//! one tower service built with the snapshot.
//!
//! ```text
//! dispatch ─▶ Route::service() = [policy layer 1 ▶ … ▶ policy layer n] ▶ handler
//! ```
//!
//! [`Snapshot::build`](crate::snapshot::Snapshot::build) turns every
//! `RouteSpec` of the config into a [`Route`]: the spec, its
//! [`RouteHandler`] (the runtime objects it needs, resolved once: the
//! backend's upstream pool, the gRPC method, the composition's caches and
//! coalescer, the GraphQL service) and its [`RouteService`], the handler
//! wrapped by the route's [`PolicyLayer`]s. The dispatcher matches a
//! route, puts the request's [`RequestContext`](crate::context::RequestContext)
//! in the request's extensions and calls the route's service; nothing on
//! the request path looks anything up by name.
//!
//! A policy (auth, CORS, rate limit, retry…) is a tower layer: any stock
//! `tower` / `tower-http` layer over [`RouteService`] fits through
//! [`PolicyLayer::new`]. Which policies a route gets is decided in one
//! place, [`policy_layers`]; see ARCHITECTURE.md ("Adding a policy layer").

mod async_runtime;
mod build;
mod handler;
mod policies;
mod policy;

pub use build::{BuildError, PolicyChooser, RouteInputs, build_routes};
pub use handler::{RouteHandler, take_context};
pub use policies::{PolicyRuntime, policy_layers};
pub use policy::PolicyLayer;

use std::sync::Arc;

use http::{Request, Response};
use tower::util::BoxCloneSyncService;

use crate::body::GatewayBody;
use crate::config::model::RouteSpec;
use crate::edge_error::GatewayError;
use crate::router::Routed;

/// A route's whole pipeline as one cloneable service. Its request carries
/// the request's `RequestContext` in its extensions.
pub type RouteService =
    BoxCloneSyncService<Request<GatewayBody>, Response<GatewayBody>, GatewayError>;

/// One route as the snapshot serves it.
pub struct Route {
    pub spec: Arc<RouteSpec>,
    /// The runtime objects the handler uses, resolved at build.
    pub handler: RouteHandler,
    /// The names of the route's policy layers, outermost first.
    pub policies: Vec<&'static str>,
    service: RouteService,
}

impl Route {
    /// The pipeline, ready to be called once (a clone: cheap, reference
    /// counts and one allocation).
    pub fn service(&self) -> RouteService {
        self.service.clone()
    }
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("name", &self.spec.name)
            .field("handler", &self.handler)
            .field("policies", &self.policies)
            .finish()
    }
}

impl Routed for Arc<Route> {
    fn spec(&self) -> &RouteSpec {
        &self.spec
    }
}

#[cfg(test)]
mod tests;
