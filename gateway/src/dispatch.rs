//! The innermost service of the outer stack: route the request, then hand
//! it to its route's pipeline.
//!
//! Stage order: path safety check → route match (404 / 405) → body limit →
//! the route's pipeline ([`crate::pipeline`]: its policy layers, then its
//! handler). The snapshot is loaded once here; the request's
//! [`RequestContext`] (snapshot, route, parameters, ids) travels in the
//! request's extensions. Dispatch knows no handler kind and no policy.

use std::future::Ready;
use std::sync::Arc;
use std::task::{Context, Poll};

use arc_swap::ArcSwap;
use futures::future::Either;
use http::header::{ALLOW, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use tower::ServiceExt;
use tower::util::Oneshot;

use crate::body::{self, GatewayBody};
use crate::context::{ClientIp, EdgeContext, RequestContext, RequestId};
use crate::edge_error::GatewayError;
use crate::pipeline::RouteService;
use crate::router::{RouteMatch, check_path};
use crate::snapshot::Snapshot;
use crate::{limits, proxy};

/// Routes requests against the current snapshot.
#[derive(Clone)]
pub struct Dispatcher {
    current: Arc<ArcSwap<Snapshot>>,
}

impl Dispatcher {
    pub fn new(current: Arc<ArcSwap<Snapshot>>) -> Self {
        Self { current }
    }
}

impl tower::Service<Request<GatewayBody>> for Dispatcher {
    type Response = Response<GatewayBody>;
    type Error = GatewayError;
    /// The route's pipeline called once, or the answer made here. Not a
    /// box: the pipeline's own future is boxed already (as is the
    /// gateway's service around this one), and boxing it again was one
    /// more allocation and copy per request (callgrind).
    type Future = Either<
        Oneshot<RouteService, Request<GatewayBody>>,
        Ready<Result<Self::Response, GatewayError>>,
    >;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), GatewayError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<GatewayBody>) -> Self::Future {
        let snapshot = self.current.load_full();
        match dispatch(request, snapshot) {
            Ok(Dispatched::Route(service, request)) => Either::Left(service.oneshot(request)),
            Ok(Dispatched::Answered(response)) => Either::Right(std::future::ready(Ok(response))),
            Err(error) => Either::Right(std::future::ready(Err(*error))),
        }
    }
}

/// Where a request goes after routing.
enum Dispatched {
    /// The route's pipeline, and the request carrying its context.
    Route(RouteService, Request<GatewayBody>),
    /// Answered here (the built-in `/healthz`).
    Answered(Response<GatewayBody>),
}

fn dispatch(
    request: Request<GatewayBody>,
    snapshot: Arc<Snapshot>,
) -> Result<Dispatched, Box<GatewayError>> {
    check_path(request.uri().path())
        .map_err(|e| GatewayError::new(StatusCode::BAD_REQUEST, "BAD_PATH", e.to_string()))?;
    let host = proxy::host_of_request(&request);
    let (route, params) =
        match snapshot
            .routes
            .match_request(request.method(), host, request.uri().path())
        {
            RouteMatch::Found { route, params } => (Arc::clone(route), params),
            RouteMatch::MethodNotAllowed { allow } => {
                return Err(Box::new(method_not_allowed(request.method(), &allow)));
            }
            RouteMatch::NotFound if request.uri().path() == "/healthz" => {
                return Ok(Dispatched::Answered(healthz()));
            }
            RouteMatch::NotFound => {
                return Err(Box::new(GatewayError::new(
                    StatusCode::NOT_FOUND,
                    "NO_ROUTE",
                    format!("no route for {} {}", request.method(), request.uri().path()),
                )));
            }
        };
    let edge = EdgeContext::of(&request);
    let exchange = edge.and_then(|edge| edge.exchange.clone());
    if let Some(exchange) = &exchange {
        exchange.set_route(Arc::clone(&route.spec));
    }
    // The edge context stays in the request's extensions: a proxied head
    // carries it upstream as it is.
    let ctx = RequestContext {
        request_id: edge
            .and_then(|edge| edge.request_id.clone())
            .unwrap_or_else(|| RequestId(Arc::from(""))),
        client: edge.map_or_else(ClientIp::unknown, |edge| edge.client),
        outbound: None,
        params,
        route: Arc::clone(&route.spec),
        snapshot: Arc::clone(&snapshot),
        exchange,
        unsampled_trace: edge.and_then(|edge| edge.unsampled_trace.clone()),
        retry: None,
    };
    let limit = route
        .spec
        .max_body
        .or(snapshot.config.server.default_max_body);
    let (parts, body) = request.into_parts();
    let body = limits::limit_body(&parts.headers, body, limit).map_err(GatewayError::from)?;
    let mut request = Request::from_parts(parts, body);
    request.extensions_mut().insert(ctx);
    Ok(Dispatched::Route(route.service(), request))
}

fn method_not_allowed(method: &Method, allow: &[Method]) -> GatewayError {
    let allow_list = allow
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let error = GatewayError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("method {method} is not allowed here; allowed: {allow_list}"),
    );
    match HeaderValue::from_str(&allow_list) {
        Ok(value) => error.with_header(ALLOW, value),
        Err(_) => error,
    }
}

/// The main listener's liveness answer, for load balancers that probe the
/// traffic port. A route for `/healthz` in routes.yaml takes precedence.
fn healthz() -> Response<GatewayBody> {
    let mut response = Response::new(body::full(r#"{"status":"ok"}"#));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
