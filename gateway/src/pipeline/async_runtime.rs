//! The runtime objects of `async:` proxy routes, built with the snapshot:
//! the route's [`AsyncRoute`] over the event bus's store and its worker.
//! A reload that leaves the route, its `async:` settings, its pool and
//! timeout unchanged carries the running worker over; otherwise the new
//! snapshot starts a new one and the old stops when the old snapshot is
//! dropped (for that short overlap two workers read the same durable
//! consumer: delivery stays at least once).

use std::sync::Arc;

use http::Response;

use super::{Route, RouteHandler};
use crate::body::GatewayBody;
use crate::config::model::RouteSpec;
use crate::context::RequestContext;
use crate::edge_error::GatewayError;
use crate::events::async_route::{self, AsyncError, AsyncRoute, worker};
use crate::events::bus::EventBus;
use crate::upstream::UpstreamPool;

/// An async route and its worker (stopped when this is dropped).
#[derive(Debug)]
pub struct RunningAsyncRoute {
    pub route: Arc<AsyncRoute>,
    _worker: Option<worker::WorkerHandle>,
}

/// The async runtime of a proxy route, `None` when it is not `async:`.
pub fn for_route(
    spec: &Arc<RouteSpec>,
    pool: &Arc<UpstreamPool>,
    events: Option<&Arc<EventBus>>,
    previous: &[Arc<Route>],
) -> Result<Option<Arc<RunningAsyncRoute>>, String> {
    let Some(async_spec) = &spec.async_spec else {
        return Ok(None);
    };
    let Some(bus) = events else {
        return Err("an async route needs the events: section (its store)".to_owned());
    };
    if let Some(running) = carried_over(spec, async_spec, pool, bus, previous) {
        return Ok(Some(running));
    }
    let route = Arc::new(
        AsyncRoute::new(
            &spec.name,
            Arc::clone(async_spec),
            Arc::clone(pool),
            Arc::clone(bus.store()),
            spec.timeout,
        )
        .with_emit(&spec.emit, bus),
    );
    let worker = tokio::runtime::Handle::try_current().ok().map(|handle| {
        let _entered = handle.enter();
        worker::spawn(Arc::clone(&route))
    });
    Ok(Some(Arc::new(RunningAsyncRoute {
        route,
        _worker: worker,
    })))
}

fn carried_over(
    spec: &RouteSpec,
    async_spec: &Arc<crate::config::model::events::AsyncSpec>,
    pool: &Arc<UpstreamPool>,
    bus: &EventBus,
    previous: &[Arc<Route>],
) -> Option<Arc<RunningAsyncRoute>> {
    previous.iter().find_map(|route| match &route.handler {
        RouteHandler::Proxy {
            async_route: Some(running),
            ..
        } if route.spec.name == spec.name
            && route.spec.timeout == spec.timeout
            && route.spec.emit == spec.emit
            && running.route.spec == *async_spec
            && Arc::ptr_eq(&running.route.pool, pool)
            && Arc::ptr_eq(&running.route.store, bus.store()) =>
        {
            Some(Arc::clone(running))
        }
        _ => None,
    })
}

/// `GET /v1/requests/{id}`.
pub async fn status(ctx: RequestContext) -> Result<Response<GatewayBody>, GatewayError> {
    let Some(bus) = &ctx.snapshot.events else {
        return Err(AsyncError::NotFound.into());
    };
    let id = ctx.params.get("id").unwrap_or_default();
    async_route::read_status(bus.store(), id)
        .await
        .map_err(GatewayError::from)
}
