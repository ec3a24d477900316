//! The handler at the end of every route's pipeline, as a tower service.
//!
//! A [`RouteHandler`] holds the runtime objects its kind needs, resolved
//! when the snapshot is built: the upstream pool (proxy), the runtime gRPC
//! route, the composition plan with its caches, the GraphQL service. Its
//! service reads the request's `RequestContext` from the request's
//! extensions (put there by the dispatcher) and runs the handler.

use std::sync::Arc;

use http::{Request, Response, StatusCode};

use super::RouteService;
use crate::body::GatewayBody;
use crate::config::model::ProxyAction;
use crate::config::model::events::PublishAction;
use crate::context::RequestContext;
use crate::edge_error::GatewayError;
use crate::events::async_route;
use crate::graphql::GraphqlService;
use crate::upstream::UpstreamPool;
use crate::{compose, graphql, grpc, proxy};

/// What a route does, with everything it needs at hand.
#[derive(Debug, Clone)]
pub enum RouteHandler {
    Proxy {
        action: ProxyAction,
        pool: Arc<UpstreamPool>,
        /// `async:` routes: the store-backed runtime and its worker.
        async_route: Option<Arc<super::async_runtime::RunningAsyncRoute>>,
    },
    Grpc(Arc<grpc::GrpcRoute>),
    Compose(Arc<compose::ComposePlan>),
    /// The snapshot's GraphQL service.
    Graphql(Arc<GraphqlService>),
    GraphiqlAsset,
    /// `GET /v1/requests/{id}`.
    AsyncStatus,
    /// `publish: TOPIC`.
    Publish(PublishAction),
}

impl RouteHandler {
    /// The handler as the innermost service of the route's pipeline.
    pub fn service(&self) -> RouteService {
        let handler = Arc::new(self.clone());
        RouteService::new(tower::service_fn(move |request| {
            let handler = Arc::clone(&handler);
            async move { handler.handle(request).await }
        }))
    }

    async fn handle(
        &self,
        mut request: Request<GatewayBody>,
    ) -> Result<Response<GatewayBody>, GatewayError> {
        let Some(ctx) = take_context(&mut request) else {
            return Err(missing_context());
        };
        match self {
            RouteHandler::Proxy {
                action,
                async_route: Some(running),
                ..
            } if async_route::goes_async(running.route.spec.mode, request.headers()) => {
                Box::pin(async_route::submit(&running.route, request, ctx, action)).await
            }
            RouteHandler::Proxy { action, pool, .. } => {
                proxy::forward(request, ctx, action, pool).await
            }
            RouteHandler::AsyncStatus => Box::pin(super::async_runtime::status(ctx)).await,
            RouteHandler::Publish(action) => {
                crate::events::publish::handle_boxed(request, ctx, action.clone()).await
            }
            // The other handlers' futures are large: boxing them keeps
            // this future (allocated for every request) proxy-sized.
            RouteHandler::Compose(plan) => Box::pin(compose::handle(request, ctx, plan)).await,
            RouteHandler::Grpc(route) => Box::pin(grpc::handle(request, ctx, route)).await,
            RouteHandler::Graphql(service) => {
                Box::pin(graphql::handle(request, ctx, service)).await
            }
            RouteHandler::GraphiqlAsset => {
                let file = ctx.params.get("file").unwrap_or_default();
                graphql::graphiql::asset(file, request.headers()).map_err(GatewayError::from)
            }
        }
    }
}

/// Takes the request's context out of its extensions. Every request the
/// dispatcher hands to a pipeline carries one; a layer that builds a new
/// request must carry the extensions over.
pub fn take_context(request: &mut Request<GatewayBody>) -> Option<RequestContext> {
    request.extensions_mut().remove::<RequestContext>()
}

/// A policy layer dropped the request's extensions: a bug, answered 500.
fn missing_context() -> GatewayError {
    GatewayError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL",
        "internal error",
    )
    .with_source("a route pipeline got a request without its RequestContext")
}
