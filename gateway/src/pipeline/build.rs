//! Building every route's pipeline when the snapshot is built.
//!
//! Each `RouteSpec` gets its [`RouteHandler`] (runtime objects resolved:
//! pools from [`Upstreams`], gRPC methods from the snapshot's descriptor
//! pool, composition plans, the GraphQL service) and its policy layers.
//! Composition plans keep their caches and coalescer from the previous
//! snapshot's route of the same name while its spec is unchanged.

use std::collections::HashMap;
use std::sync::Arc;

use prost_reflect::DescriptorPool;

use super::policy::assemble;
use super::{PolicyLayer, Route, RouteHandler};
use crate::compose::ComposePlan;
use crate::config::model::{GatewayConfig, RouteAction, RouteSpec};
use crate::graphql::GraphqlService;
use crate::grpc::GrpcRoute;
use crate::proxy::ProxyRoute;
use crate::upstream::Upstreams;

/// A route whose runtime objects could not be built: its gRPC method is
/// missing from the descriptors, or a GraphQL route has no GraphQL service
/// (compilation rules both out).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("route {route:?}: {message}")]
pub struct BuildError {
    pub route: String,
    pub message: String,
}

/// Picks a route's policy layers.
pub type PolicyChooser = dyn Fn(&RouteSpec, &super::PolicyRuntime) -> Vec<PolicyLayer>;

/// What the routes are built from, besides the config.
pub struct RouteInputs<'a> {
    pub upstreams: &'a mut Upstreams,
    pub descriptors: Option<&'a DescriptorPool>,
    pub graphql: Option<&'a Arc<GraphqlService>>,
    /// The previous snapshot's routes and whether its protos were the same.
    pub previous: Option<(&'a [Arc<Route>], bool)>,
    /// The policy layers of a route: [`super::policy_layers`], or a test's.
    pub policies: &'a PolicyChooser,
    /// The runtime objects the policies share.
    pub policy_runtime: &'a super::PolicyRuntime,
    /// The event bus (async routes store their requests in it).
    pub events: Option<&'a Arc<crate::events::bus::EventBus>>,
}

/// Builds the pipeline of every route of `config`, in config order.
pub fn build_routes(
    config: &GatewayConfig,
    inputs: RouteInputs<'_>,
) -> Result<Vec<Arc<Route>>, BuildError> {
    let RouteInputs {
        upstreams,
        descriptors,
        graphql,
        previous,
        policies,
        policy_runtime,
        events,
    } = inputs;
    let (previous_routes, protos_unchanged) = previous.unwrap_or((&[], false));
    let previous_plans: HashMap<&str, &Arc<ComposePlan>> = previous_routes
        .iter()
        .filter_map(|route| match &route.handler {
            RouteHandler::Compose(plan) => Some((route.spec.name.as_str(), plan)),
            _ => None,
        })
        .collect();
    config
        .routes
        .iter()
        .map(|spec| {
            let fail = |message: String| BuildError {
                route: spec.name.clone(),
                message,
            };
            let handler = match &spec.action {
                RouteAction::Proxy(action) => {
                    let pool = upstreams.pool_for(&action.backend);
                    let async_route =
                        super::async_runtime::for_route(spec, &pool, events, previous_routes)
                            .map_err(fail)?;
                    RouteHandler::Proxy {
                        route: Arc::new(ProxyRoute {
                            action: action.clone(),
                            pool,
                        }),
                        async_route,
                    }
                }
                RouteAction::Grpc(grpc) => {
                    let pool = upstreams.pool_for(&grpc.backend);
                    RouteHandler::Grpc(Arc::new(
                        GrpcRoute::build(grpc, pool, descriptors).map_err(fail)?,
                    ))
                }
                RouteAction::Compose(compose) => {
                    let previous = previous_plans.get(spec.name.as_str()).map(|p| p.as_ref());
                    let plan = ComposePlan::build(
                        compose,
                        upstreams,
                        descriptors,
                        previous,
                        protos_unchanged,
                    )
                    .map_err(fail)?;
                    RouteHandler::Compose(Arc::new(plan))
                }
                RouteAction::Graphql => {
                    RouteHandler::Graphql(Arc::clone(graphql.ok_or_else(|| {
                        fail("a GraphQL route needs the graphql: section".to_owned())
                    })?))
                }
                RouteAction::GraphiqlAsset => RouteHandler::GraphiqlAsset,
                RouteAction::AsyncStatus => RouteHandler::AsyncStatus,
                RouteAction::Publish(action) => RouteHandler::Publish(action.clone()),
            };
            Ok(Arc::new(route(
                Arc::clone(spec),
                handler,
                policies(spec, policy_runtime),
            )))
        })
        .collect()
}

fn route(spec: Arc<RouteSpec>, handler: RouteHandler, layers: Vec<PolicyLayer>) -> Route {
    let service = assemble(handler.service(), &layers);
    Route {
        spec,
        handler,
        policies: layers.iter().map(PolicyLayer::name).collect(),
        service,
    }
}
