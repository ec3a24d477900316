//! [`PolicyLayer`]: one named step of a route's pipeline, made from any
//! tower layer over a [`RouteService`].

use std::sync::Arc;

use http::{Request, Response};
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service};

use super::RouteService;
use crate::body::GatewayBody;
use crate::edge_error::GatewayError;

type Wrap = dyn Fn(RouteService) -> RouteService + Send + Sync;

/// A named layer of a route's pipeline.
#[derive(Clone)]
pub struct PolicyLayer {
    name: &'static str,
    wrap: Arc<Wrap>,
}

impl PolicyLayer {
    /// Any tower layer whose service keeps the route's request, response
    /// and error types: stock `tower` layers (`ConcurrencyLimitLayer`,
    /// `MapResponseLayer`, …), `tower-http` layers (`SetResponseHeaderLayer`,
    /// `CorsLayer`, …) or the gateway's own. A layer whose error differs
    /// (e.g. `TimeoutLayer`'s `BoxError`) is mounted behind a
    /// `MapErrLayer` that turns its error into a `GatewayError`.
    pub fn new<L>(name: &'static str, layer: L) -> Self
    where
        L: Layer<RouteService> + Send + Sync + 'static,
        L::Service: Service<Request<GatewayBody>, Response = Response<GatewayBody>, Error = GatewayError>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as Service<Request<GatewayBody>>>::Future: Send + 'static,
    {
        Self {
            name,
            wrap: Arc::new(move |inner| BoxCloneSyncService::new(layer.layer(inner))),
        }
    }

    /// The policy's name, as listed on `/config` and in logs.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Wraps `inner` (the rest of the pipeline) in this layer.
    pub fn wrap(&self, inner: RouteService) -> RouteService {
        (self.wrap)(inner)
    }
}

impl std::fmt::Debug for PolicyLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PolicyLayer").field(&self.name).finish()
    }
}

/// Wraps `handler` in `layers`, the first outermost.
pub(super) fn assemble(handler: RouteService, layers: &[PolicyLayer]) -> RouteService {
    layers
        .iter()
        .rev()
        .fold(handler, |inner, layer| layer.wrap(inner))
}

/// Calls the rest of a route's pipeline once it is ready: for a policy
/// layer's boxed future (a named `async fn`: its concrete types keep that
/// future `Send`).
pub(crate) async fn call_ready(
    mut inner: RouteService,
    request: Request<GatewayBody>,
) -> Result<Response<GatewayBody>, GatewayError> {
    use tower::ServiceExt;
    inner.ready().await?;
    inner.call(request).await
}
