//! Slot 5 of a route's policies: `retry`. It attaches the route's retry
//! scope (the route's `retry:` policy, if any, and a count of the
//! request's upstream attempts) to the request context, so every upstream
//! request the handler makes carries it to the pool, which applies the
//! policy to each attempt (`upstream::pool::send`). On the way back it
//! writes the count in the `x-gateway-attempts` response header (errors
//! included); a request that never went upstream gets none.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderName, HeaderValue, Request, Response};
use tower::{Layer, Service};

use crate::body::GatewayBody;
use crate::config::model::{RetryPolicy, RouteSpec};
use crate::context::RequestContext;
use crate::edge_error::GatewayError;
use crate::pipeline::{PolicyLayer, RouteService};
use crate::upstream::retry::{ATTEMPTS_HEADER, RetryScope};

/// The route's `retry` layer.
pub fn retry_layer(route: &RouteSpec) -> PolicyLayer {
    PolicyLayer::new(
        "retry",
        AttachRetryLayer {
            policy: route.retry.clone(),
        },
    )
}

#[derive(Clone)]
struct AttachRetryLayer {
    policy: Option<Arc<RetryPolicy>>,
}

impl Layer<RouteService> for AttachRetryLayer {
    type Service = AttachRetry;

    fn layer(&self, inner: RouteService) -> AttachRetry {
        AttachRetry {
            inner,
            policy: self.policy.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AttachRetry {
    inner: RouteService,
    policy: Option<Arc<RetryPolicy>>,
}

type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<GatewayBody>, GatewayError>> + Send>>;

impl Service<Request<GatewayBody>> for AttachRetry {
    type Response = Response<GatewayBody>;
    type Error = GatewayError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), GatewayError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<GatewayBody>) -> ResponseFuture {
        let scope = Arc::new(RetryScope::new(self.policy.clone()));
        if let Some(ctx) = request.extensions_mut().get_mut::<RequestContext>() {
            ctx.retry = Some(Arc::clone(&scope));
        }
        let call = self.inner.call(request);
        Box::pin(async move {
            let result = call.await;
            let attempts = scope.attempts();
            if attempts == 0 {
                return result;
            }
            let name = HeaderName::from_static(ATTEMPTS_HEADER);
            let value = HeaderValue::from(attempts);
            match result {
                Ok(mut response) => {
                    response.headers_mut().insert(name, value);
                    Ok(response)
                }
                Err(mut error) => {
                    error.headers.insert(name, value);
                    Err(error)
                }
            }
        })
    }
}
