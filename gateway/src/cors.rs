//! CORS, the route policy layer in slot 1 of
//! [`crate::pipeline::policy_layers`]: tower-http's `Cors` configured
//! from the route's [`CorsPolicy`], with two additions.
//!
//! - A preflight (`OPTIONS` with `Origin` and
//!   `Access-Control-Request-Method`) is answered by the gateway and never
//!   forwarded; any other `OPTIONS` goes on to the handler as usual.
//! - Refusals from the layers and handler inside it (a 401 from
//!   authentication, a 429 from a rate limit) still carry the CORS
//!   headers, so the browser's script can read them: the inner error is
//!   carried through `Cors` as a placeholder response, then given the
//!   headers `Cors` added and returned as the same `GatewayError`, which
//!   the rescue layer renders (and logs) as ever.
//!
//! gRPC-Web routes (native gRPC routes) expose `grpc-status`,
//! `grpc-message` and `grpc-status-details-bin` and, unless the policy
//! lists its own, allow the gRPC-Web request headers.

use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;
use http::header::{ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY};
use http::{HeaderName, HeaderValue, Method, Request, Response};
use tower::{Layer, Service, ServiceExt};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer, ExposeHeaders};

use crate::body::{self, GatewayBody};
use crate::config::model::grpc::GrpcModeSpec;
use crate::config::model::security::{CorsOrigins, CorsPolicy, GRPC_WEB_EXPOSED};
use crate::config::model::{RouteAction, RouteSpec};
use crate::edge_error::GatewayError;
use crate::pipeline::{PolicyLayer, RouteService};

/// The request headers a gRPC-Web client sends.
const GRPC_WEB_REQUEST_HEADERS: [&str; 4] =
    ["content-type", "x-grpc-web", "x-user-agent", "grpc-timeout"];

/// The route's CORS layer.
pub fn cors_policy(policy: &CorsPolicy, route: &RouteSpec) -> PolicyLayer {
    PolicyLayer::new(
        "cors",
        CorsPolicyLayer {
            cors: Arc::new(cors_layer(policy, route)),
        },
    )
}

/// tower-http's layer for `policy` on `route`.
pub fn cors_layer(policy: &CorsPolicy, route: &RouteSpec) -> CorsLayer {
    let grpc_web =
        matches!(&route.action, RouteAction::Grpc(grpc) if grpc.mode == GrpcModeSpec::Passthrough);
    let origin = match &policy.origins {
        CorsOrigins::Any => AllowOrigin::any(),
        CorsOrigins::List { exact, patterns } => {
            let (exact, patterns) = (exact.clone(), patterns.clone());
            AllowOrigin::predicate(move |origin: &HeaderValue, _| {
                let Ok(text) = origin.to_str() else {
                    return false;
                };
                let lower = text.to_ascii_lowercase();
                exact
                    .iter()
                    .any(|allowed| allowed.as_bytes() == lower.as_bytes())
                    || patterns.iter().any(|pattern| pattern.matches(&lower))
            })
        }
    };
    let methods = if policy.methods.is_empty() {
        route
            .methods
            .clone()
            .unwrap_or_else(|| vec![Method::GET, Method::HEAD, Method::POST])
    } else {
        policy.methods.clone()
    };
    let star = |list: &[HeaderName]| list.iter().any(|h| h.as_str() == "*");
    let mut allow = policy.headers.clone();
    if allow.is_empty() && grpc_web {
        allow.extend(GRPC_WEB_REQUEST_HEADERS.map(HeaderName::from_static));
    }
    let mut expose = policy.expose_headers.clone();
    if grpc_web {
        expose.extend(GRPC_WEB_EXPOSED.map(HeaderName::from_static));
    }
    let mut layer = CorsLayer::new()
        .allow_origin(origin)
        .allow_methods(methods)
        .allow_credentials(policy.credentials)
        .allow_headers(if star(&allow) {
            AllowHeaders::any()
        } else {
            AllowHeaders::list(allow)
        })
        .expose_headers(if star(&expose) {
            ExposeHeaders::any()
        } else {
            ExposeHeaders::list(expose)
        });
    if let Some(max_age) = policy.max_age {
        layer = layer.max_age(max_age);
    }
    layer
}

/// Whether `request` is a CORS preflight.
fn is_preflight<B>(request: &Request<B>) -> bool {
    request.method() == Method::OPTIONS
        && request.headers().contains_key(ORIGIN)
        && request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD)
}

#[derive(Clone)]
struct CorsPolicyLayer {
    cors: Arc<CorsLayer>,
}

impl Layer<RouteService> for CorsPolicyLayer {
    type Service = CorsService;

    fn layer(&self, inner: RouteService) -> CorsService {
        CorsService {
            cors: self.cors.layer(Deferring(inner.clone())),
            direct: inner,
        }
    }
}

/// The route's pipeline behind CORS.
#[derive(Clone)]
struct CorsService {
    cors: tower_http::cors::Cors<Deferring>,
    direct: RouteService,
}

impl Service<Request<GatewayBody>> for CorsService {
    type Response = Response<GatewayBody>;
    type Error = GatewayError;
    type Future = BoxFuture<'static, Result<Response<GatewayBody>, GatewayError>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), GatewayError>> {
        // The CORS path's readiness; the rare non-preflight OPTIONS waits
        // for its own (`oneshot`), so no permit is held twice.
        self.cors.poll_ready(cx)
    }

    fn call(&mut self, request: Request<GatewayBody>) -> Self::Future {
        if request.method() == Method::OPTIONS && !is_preflight(&request) {
            return Box::pin(self.direct.clone().oneshot(request));
        }
        let future = self.cors.call(request);
        Box::pin(async move {
            let response = future.await?;
            match response.extensions().get::<DeferredError>().cloned() {
                Some(deferred) => Err(deferred.with_cors_headers(&response)),
                None => Ok(response),
            }
        })
    }
}

/// An inner error, carried through `Cors` as a placeholder response.
#[derive(Clone)]
struct DeferredError(Arc<Mutex<Option<GatewayError>>>);

impl DeferredError {
    /// The error, with the CORS headers `Cors` put on its placeholder.
    fn with_cors_headers(&self, placeholder: &Response<GatewayBody>) -> GatewayError {
        let taken = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        let mut error = taken.unwrap_or_else(|| {
            GatewayError::new(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "internal error",
            )
        });
        for (name, value) in placeholder.headers() {
            if name.as_str().starts_with("access-control-") || name == VARY {
                error.headers.append(name.clone(), value.clone());
            }
        }
        error
    }
}

/// The inner pipeline, its errors turned into placeholder responses.
#[derive(Clone)]
struct Deferring(RouteService);

impl Service<Request<GatewayBody>> for Deferring {
    type Response = Response<GatewayBody>;
    type Error = GatewayError;
    type Future = BoxFuture<'static, Result<Response<GatewayBody>, GatewayError>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), GatewayError>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request<GatewayBody>) -> Self::Future {
        let future = self.0.call(request);
        Box::pin(async move {
            match future.await {
                Ok(response) => Ok(response),
                Err(error) => {
                    let mut placeholder = Response::new(body::empty());
                    placeholder
                        .extensions_mut()
                        .insert(DeferredError(Arc::new(Mutex::new(Some(error)))));
                    Ok(placeholder)
                }
            }
        })
    }
}
