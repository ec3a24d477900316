//! [`RateLimitLayer`]: the route's limits checked in order (global, then
//! the route's own) before anything else is done for the request.
//!
//! A request over any limit is answered 429 `RATE_LIMITED` with
//! `Retry-After` and never reaches the handler; while Redis is down and a
//! Redis limit is `failure_mode: closed`, 503 `RATE_LIMIT_UNAVAILABLE`.
//! Every response of a limited route carries `RateLimit-Policy` and
//! `RateLimit` for the limits that applied to its request. The answer takes
//! the route's wire form: JSON, gRPC `RESOURCE_EXHAUSTED` / `UNAVAILABLE`
//! (trailers-only for native gRPC, `google.rpc.Status` when transcoded), or
//! a GraphQL error.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Request, Response, StatusCode};
use tower::{Layer, Service};

use super::headers::{self, Report};
use super::key::{KeyInputs, key_for};
use super::{Limiter, Outcome};
use crate::body::GatewayBody;
use crate::config::model::RouteAction;
use crate::context::{Principal, RequestContext};
use crate::edge_error::{ErrorFormat, GatewayError};
use crate::pipeline::RouteService;

/// gRPC `RESOURCE_EXHAUSTED`.
const GRPC_RESOURCE_EXHAUSTED: i32 = 8;
/// gRPC `UNAVAILABLE`.
const GRPC_UNAVAILABLE: i32 = 14;

/// The limits of one route, as a tower layer.
#[derive(Clone)]
pub struct RateLimitLayer {
    limiters: Arc<[Arc<Limiter>]>,
}

impl RateLimitLayer {
    pub fn new(limiters: Vec<Arc<Limiter>>) -> Self {
        Self {
            limiters: limiters.into(),
        }
    }
}

impl Layer<RouteService> for RateLimitLayer {
    type Service = RateLimited;

    fn layer(&self, inner: RouteService) -> RateLimited {
        RateLimited {
            inner,
            limiters: Arc::clone(&self.limiters),
        }
    }
}

/// The route's pipeline behind its limits.
#[derive(Clone)]
pub struct RateLimited {
    inner: RouteService,
    limiters: Arc<[Arc<Limiter>]>,
}

impl Service<Request<GatewayBody>> for RateLimited {
    type Response = Response<GatewayBody>;
    type Error = GatewayError;
    type Future = BoxFuture<'static, Result<Response<GatewayBody>, GatewayError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), GatewayError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<GatewayBody>) -> Self::Future {
        // The ready service goes with this request; a clone stays.
        let ready = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, ready);
        let limiters = Arc::clone(&self.limiters);
        Box::pin(admit(limiters, inner, request))
    }
}

async fn admit(
    limiters: Arc<[Arc<Limiter>]>,
    mut inner: RouteService,
    request: Request<GatewayBody>,
) -> Result<Response<GatewayBody>, GatewayError> {
    // Read all the request needs before the first await: nothing borrows
    // it across one.
    let keys: Vec<Option<Vec<u8>>> = limiters
        .iter()
        .map(|limiter| request_key(limiter, &request))
        .collect();
    let form = WireForm::of(&request);
    let mut report = Report::default();
    for (limiter, key) in limiters.iter().zip(keys) {
        let Some(key) = key else {
            continue;
        };
        let name = limiter.spec.name.as_str();
        match limiter.check(&key).await {
            Outcome::Allowed { remaining, reset } => {
                report.push(&limiter.policy, name, remaining, reset);
            }
            Outcome::Limited { retry_after, reset } => {
                report.push(&limiter.policy, name, 0, reset);
                return Err(refusal(form, &report, Refusal::Limited(name), retry_after));
            }
            Outcome::Unavailable => {
                let wait = std::time::Duration::from_secs(1);
                return Err(refusal(form, &report, Refusal::Unavailable(name), wait));
            }
        }
    }
    // `inner` was polled ready by `poll_ready`.
    match inner.call(request).await {
        Ok(mut response) => {
            report.apply(response.headers_mut());
            Ok(response)
        }
        Err(mut error) => {
            report.apply(&mut error.headers);
            Err(error)
        }
    }
}

/// The request's key for `limiter`; `None` when the limit does not apply.
fn request_key(limiter: &Limiter, request: &Request<GatewayBody>) -> Option<Vec<u8>> {
    let extensions = request.extensions();
    let client_ip = extensions
        .get::<RequestContext>()
        .map(|ctx| ctx.client.ip)
        .or_else(|| extensions.get::<crate::context::ClientIp>().map(|c| c.ip))?;
    let inputs = KeyInputs {
        client_ip,
        headers: request.headers(),
        principal: extensions.get::<Principal>(),
    };
    key_for(&limiter.spec.key, limiter.spec.missing_key, &inputs)
}

enum Refusal<'a> {
    Limited(&'a str),
    Unavailable(&'a str),
}

fn refusal(
    form: WireForm,
    report: &Report,
    refusal: Refusal<'_>,
    retry_after: std::time::Duration,
) -> GatewayError {
    let (status, code, grpc_code, message) = match refusal {
        Refusal::Limited(name) => (
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            GRPC_RESOURCE_EXHAUSTED,
            format!("rate limit \"{name}\" exceeded; retry after the Retry-After delay"),
        ),
        Refusal::Unavailable(name) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "RATE_LIMIT_UNAVAILABLE",
            GRPC_UNAVAILABLE,
            format!("rate limit \"{name}\" cannot be checked right now; retry later"),
        ),
    };
    let mut error = GatewayError::new(status, code, message)
        .with_format(form.format(grpc_code))
        .with_header(RETRY_AFTER, headers::retry_after(retry_after));
    report.apply(&mut error.headers);
    error
}

/// The client's form of an error on this route.
#[derive(Debug, Clone, Copy)]
enum WireForm {
    Json,
    NativeGrpc,
    TranscodedGrpc,
    Graphql,
}

impl WireForm {
    fn of(request: &Request<GatewayBody>) -> Self {
        let action = request
            .extensions()
            .get::<RequestContext>()
            .map(|ctx| &ctx.route.action);
        match action {
            Some(RouteAction::Grpc(_)) if is_native_grpc(request) => Self::NativeGrpc,
            Some(RouteAction::Grpc(_)) => Self::TranscodedGrpc,
            Some(RouteAction::Graphql) => Self::Graphql,
            _ => Self::Json,
        }
    }

    fn format(self, grpc_code: i32) -> ErrorFormat {
        match self {
            Self::Json => ErrorFormat::Json,
            Self::NativeGrpc => ErrorFormat::Grpc { grpc_code },
            Self::TranscodedGrpc => ErrorFormat::RpcStatus {
                grpc_code,
                details: Vec::new(),
            },
            Self::Graphql => ErrorFormat::Graphql {
                content_type: "application/json",
            },
        }
    }
}

fn is_native_grpc(request: &Request<GatewayBody>) -> bool {
    request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value: &HeaderValue| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/grpc"))
}

#[cfg(test)]
mod tests;
