//! The handler at the end of every route's pipeline, as a tower service.
//!
//! A [`RouteHandler`] holds the runtime objects its kind needs, resolved
//! when the snapshot is built: the upstream pool (proxy), the runtime gRPC
//! route, the composition plan with its caches, the GraphQL service. Its
//! service reads the request's `RequestContext` from the request's
//! extensions (put there by the dispatcher) and runs the handler.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::{Request, Response, StatusCode};

use super::RouteService;
use crate::body::GatewayBody;
use crate::config::model::events::PublishAction;
use crate::context::RequestContext;
use crate::edge_error::GatewayError;
use crate::events::async_route;
use crate::graphql::GraphqlService;
use crate::proxy::ProxyRoute;
use crate::{compose, graphql, grpc, proxy};

/// A handler's answer to one request, boxed once.
pub type HandlerFuture =
    Pin<Box<dyn Future<Output = Result<Response<GatewayBody>, GatewayError>> + Send>>;

/// What a route does, with everything it needs at hand.
#[derive(Debug, Clone)]
pub enum RouteHandler {
    Proxy {
        route: Arc<ProxyRoute>,
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
        let handler = self.clone();
        RouteService::new(tower::service_fn(move |request| handler.call(request)))
    }

    /// Starts handling `request`. Each kind's future is made with what it
    /// owns (reference counts of the route's runtime objects) and boxed as
    /// it is made: no `async` layer sits around it, since each such layer
    /// copied the whole future once more (the proxy's is a few kilobytes;
    /// see [`proxy::forward`]).
    pub fn call(&self, mut request: Request<GatewayBody>) -> HandlerFuture {
        let Some(ctx) = take_context(&mut request) else {
            return Box::pin(std::future::ready(Err(missing_context())));
        };
        match self {
            RouteHandler::Proxy {
                route,
                async_route: Some(running),
            } if async_route::goes_async(running.route.spec.mode, request.headers()) => {
                let (running, route) = (Arc::clone(running), Arc::clone(route));
                Box::pin(async move {
                    async_route::submit(&running.route, request, ctx, &route.action).await
                })
            }
            RouteHandler::Proxy { route, .. } => {
                Box::pin(proxy::forward(request, ctx, Arc::clone(route)))
            }
            RouteHandler::AsyncStatus => Box::pin(super::async_runtime::status(ctx)),
            RouteHandler::Publish(action) => {
                crate::events::publish::handle_boxed(request, ctx, action.clone())
            }
            RouteHandler::Compose(plan) => {
                let plan = Arc::clone(plan);
                Box::pin(async move { compose::handle(request, ctx, &plan).await })
            }
            RouteHandler::Grpc(route) => {
                let route = Arc::clone(route);
                Box::pin(async move { grpc::handle(request, ctx, &route).await })
            }
            RouteHandler::Graphql(service) => {
                let service = Arc::clone(service);
                Box::pin(async move { graphql::handle(request, ctx, &service).await })
            }
            RouteHandler::GraphiqlAsset => {
                let file = ctx.params.get("file").unwrap_or_default();
                let answer =
                    graphql::graphiql::asset(file, request.headers()).map_err(GatewayError::from);
                Box::pin(std::future::ready(answer))
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
