//! The built-in `GET /v1/requests/{id}` route, added when any proxy route
//! is `async:` (like the GraphQL section adds its endpoint). A user route
//! on the same path is a conflict, reported at that route.

use std::sync::Arc;

use super::routes::CompiledRoute;
use crate::config::model::{RouteAction, RouteSpec};

/// The status route's pattern.
pub const STATUS_ROUTE_PATH: &str = "/v1/requests/{id}";

/// The status route, if any route is async; its span is the first async
/// route's.
pub(super) fn status_route(routes: &[CompiledRoute]) -> Option<CompiledRoute> {
    let first_async = routes
        .iter()
        .find(|route| route.spec.async_spec.is_some())?;
    let path = crate::router::PathPattern::parse(STATUS_ROUTE_PATH).ok()?;
    let spec = RouteSpec {
        name: format!("async status {STATUS_ROUTE_PATH}"),
        methods: Some(vec![http::Method::GET, http::Method::HEAD]),
        path,
        host: None,
        action: RouteAction::AsyncStatus,
        timeout: None,
        body_idle_timeout: None,
        max_body: Some(0),
        headers: Default::default(),
        rate_limits: Vec::new(),
        load_shedding: None,
        security: Default::default(),
        retry: None,
        emit: Vec::new(),
        async_spec: None,
    };
    Some(CompiledRoute {
        spec: Arc::new(spec),
        label: format!("the async status route {STATUS_ROUTE_PATH:?}"),
        span: first_async.span,
    })
}
