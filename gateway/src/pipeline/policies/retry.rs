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
use std::task::{Context, Poll, ready};

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

impl Service<Request<GatewayBody>> for AttachRetry {
    type Response = Response<GatewayBody>;
    type Error = GatewayError;
    type Future = CountedAttempts;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), GatewayError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<GatewayBody>) -> CountedAttempts {
        let scope = Arc::new(RetryScope::new(self.policy.clone()));
        if let Some(ctx) = request.extensions_mut().get_mut::<RequestContext>() {
            ctx.retry = Some(Arc::clone(&scope));
        }
        CountedAttempts {
            call: self.inner.call(request),
            scope,
        }
    }
}

/// The count as a header value: a static one for the counts retries
/// reach in practice (a number's value is otherwise formatted into a
/// buffer of its own, one allocation on every response).
fn attempts_value(attempts: u32) -> HeaderValue {
    const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    match DIGITS.get(attempts as usize) {
        Some(digit) => HeaderValue::from_static(digit),
        None => HeaderValue::from(attempts),
    }
}

/// The rest of the pipeline's answer, with the request's attempt count.
/// A named future rather than an `async` block: this layer is on every
/// route, and the block was one more allocation per request.
pub struct CountedAttempts {
    call: <RouteService as Service<Request<GatewayBody>>>::Future,
    scope: Arc<RetryScope>,
}

impl Future for CountedAttempts {
    type Output = Result<Response<GatewayBody>, GatewayError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut result = ready!(self.call.as_mut().poll(cx));
        let attempts = self.scope.attempts();
        if attempts > 0 {
            let name = HeaderName::from_static(ATTEMPTS_HEADER);
            let value = attempts_value(attempts);
            match &mut result {
                Ok(response) => _ = response.headers_mut().insert(name, value),
                Err(error) => _ = error.headers.insert(name, value),
            }
        }
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::attempts_value;
    use http::HeaderValue;

    #[test]
    fn every_count_is_written_as_its_decimal() {
        for attempts in 0..=1000u32 {
            assert_eq!(attempts_value(attempts), HeaderValue::from(attempts));
        }
    }
}
