//! [`AuthLayer`]: the authentication policy layer. Per request: the
//! claim headers (every JWT provider's, not only the route's) are removed
//! from the client's input (whatever credential it carries, also on
//! optional routes; [`StripClaimHeadersLayer`] does the same on routes
//! without authentication), the credential is
//! verified, the route's requirements are checked, then the verified
//! claim headers are set, the [`Principal`](crate::context::Principal)
//! goes into the request's extensions and its consumer (else the JWT's
//! subject) onto the request's record, for the access log and metrics. A refusal is a `GatewayError` (rendered by the
//! rescue layer); the handler is never called.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::{HeaderName, Request, Response};
use tower::{Layer, Service};

use super::{AuthFailure, RouteAuthenticator, Verified, principal};
use crate::body::GatewayBody;
use crate::context::RequestContext;
use crate::edge_error::GatewayError;
use crate::pipeline::RouteService;

/// The layer of one route.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    route: Arc<RouteAuthenticator>,
}

impl AuthLayer {
    pub fn new(route: Arc<RouteAuthenticator>) -> Self {
        Self { route }
    }
}

impl Layer<RouteService> for AuthLayer {
    type Service = AuthService;

    fn layer(&self, inner: RouteService) -> Self::Service {
        AuthService {
            inner,
            route: Arc::clone(&self.route),
        }
    }
}

#[derive(Clone)]
pub struct AuthService {
    inner: RouteService,
    route: Arc<RouteAuthenticator>,
}

impl Service<Request<GatewayBody>> for AuthService {
    type Response = Response<GatewayBody>;
    type Error = GatewayError;
    type Future = BoxFuture<'static, Result<Response<GatewayBody>, GatewayError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), GatewayError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<GatewayBody>) -> Self::Future {
        // The clone that was polled ready serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let route = Arc::clone(&self.route);
        Box::pin(async move {
            admit(&route, &mut request)
                .await
                .map_err(|failure| failure.into_gateway_error(&route.action, request.headers()))?;
            inner.call(request).await
        })
    }
}

/// Authenticates `request` and prepares it for the handler.
async fn admit(
    route: &RouteAuthenticator,
    request: &mut Request<GatewayBody>,
) -> Result<(), AuthFailure> {
    remove_claim_headers(request, &route.claim_headers);
    let Some(Verified {
        principal: who,
        provider,
    }) = route.authenticate(request).await?
    else {
        if route.auth.optional {
            return Ok(());
        }
        return Err(AuthFailure::Missing {
            bearer: route.wants_bearer(),
        });
    };
    // Logs and metrics name the consumer (also when the route's scopes or
    // claims refuse it); a JWT without a consumer claim names its subject.
    if let (Some(consumer), Some(exchange)) = (
        who.consumer_name(),
        request
            .extensions()
            .get::<RequestContext>()
            .and_then(|ctx| ctx.exchange.as_ref()),
    ) {
        exchange.set_consumer(consumer);
    }
    principal::check(&who, &route.auth)?;
    if let Some(provider) = &provider {
        principal::set_claim_headers(request.headers_mut(), &who, provider);
    }
    request.extensions_mut().insert(who);
    Ok(())
}

fn remove_claim_headers(request: &mut Request<GatewayBody>, names: &[HeaderName]) {
    for name in names {
        request.headers_mut().remove(name);
    }
}

/// The policy layer of a route without `auth:` when some JWT provider
/// forwards claims as headers: those headers are the gateway's to set, so
/// a client's own are removed here too.
#[derive(Debug, Clone)]
pub struct StripClaimHeadersLayer {
    names: Arc<[HeaderName]>,
}

impl StripClaimHeadersLayer {
    pub fn new(names: Arc<[HeaderName]>) -> Self {
        Self { names }
    }
}

impl Layer<RouteService> for StripClaimHeadersLayer {
    type Service = StripClaimHeaders;

    fn layer(&self, inner: RouteService) -> Self::Service {
        StripClaimHeaders {
            inner,
            names: Arc::clone(&self.names),
        }
    }
}

#[derive(Clone)]
pub struct StripClaimHeaders {
    inner: RouteService,
    names: Arc<[HeaderName]>,
}

impl Service<Request<GatewayBody>> for StripClaimHeaders {
    type Response = Response<GatewayBody>;
    type Error = GatewayError;
    type Future = <RouteService as Service<Request<GatewayBody>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), GatewayError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<GatewayBody>) -> Self::Future {
        remove_claim_headers(&mut request, &self.names);
        self.inner.call(request)
    }
}
