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

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures::future::BoxFuture;
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Request, Response, StatusCode};
use tower::{Layer, Service};

use super::headers::{self, Policies, RateHeaders, Report};
use super::key::{KeyInputs, write_key};
use super::{Limiter, Outcome};
use crate::body::GatewayBody;
use crate::config::model::RouteAction;
use crate::context::{EdgeContext, Principal, RequestContext};
use crate::edge_error::{ErrorFormat, GatewayError};
use crate::pipeline::RouteService;

/// gRPC `RESOURCE_EXHAUSTED`.
const GRPC_RESOURCE_EXHAUSTED: i32 = 8;
/// gRPC `UNAVAILABLE`.
const GRPC_UNAVAILABLE: i32 = 14;

thread_local! {
    /// Each worker's buffer for the request keys of local limits (checked
    /// without an await, so never held across one).
    static KEY: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The limits of one route, as a tower layer.
#[derive(Clone)]
pub struct RateLimitLayer {
    limits: Arc<Limits>,
}

/// The limiters of a layer, in order, and what is built once for them.
struct Limits {
    limiters: Box<[Arc<Limiter>]>,
    policies: Policies,
    /// No limit uses Redis: every check is done in `call`, with nothing
    /// boxed and no clone of the inner service (measured: the local
    /// limiter's cost per request in docs/latency-comparison.md).
    local_only: bool,
}

impl RateLimitLayer {
    pub fn new(limiters: Vec<Arc<Limiter>>) -> Self {
        let policies = Policies::new(limiters.iter().map(|l| l.policy.clone()).collect());
        let local_only = limiters.iter().all(|limiter| limiter.is_local());
        Self {
            limits: Arc::new(Limits {
                limiters: limiters.into(),
                policies,
                local_only,
            }),
        }
    }
}

impl Layer<RouteService> for RateLimitLayer {
    type Service = RateLimited;

    fn layer(&self, inner: RouteService) -> RateLimited {
        RateLimited {
            inner,
            limits: Arc::clone(&self.limits),
        }
    }
}

/// The route's pipeline behind its limits.
#[derive(Clone)]
pub struct RateLimited {
    inner: RouteService,
    limits: Arc<Limits>,
}

impl Service<Request<GatewayBody>> for RateLimited {
    type Response = Response<GatewayBody>;
    type Error = GatewayError;
    type Future = RateLimitedFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), GatewayError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<GatewayBody>) -> Self::Future {
        if self.limits.local_only {
            let mut report = Report::default();
            return match check_locally(&self.limits, &mut report, &request) {
                // `inner` was polled ready by `poll_ready`.
                None => RateLimitedFuture::Admitted {
                    inner: self.inner.call(request),
                    headers: Some(report.values(&self.limits.policies)),
                },
                Some(refusal) => RateLimitedFuture::Refused {
                    error: Some(refusal),
                },
            };
        }
        // The ready service goes with this request; a clone stays.
        let ready = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, ready);
        let limits = Arc::clone(&self.limits);
        RateLimitedFuture::Checking {
            inner: Box::pin(admit(limits, inner, request)),
        }
    }
}

/// A rate-limited request's answer.
pub enum RateLimitedFuture {
    /// Within every local limit: the pipeline's answer, with the limits'
    /// headers added.
    Admitted {
        inner: <RouteService as Service<Request<GatewayBody>>>::Future,
        headers: Option<RateHeaders>,
    },
    /// Over a local limit.
    Refused { error: Option<GatewayError> },
    /// A limit kept in Redis is being checked (then the pipeline).
    Checking {
        inner: BoxFuture<'static, Result<Response<GatewayBody>, GatewayError>>,
    },
}

impl Future for RateLimitedFuture {
    type Output = Result<Response<GatewayBody>, GatewayError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut *self {
            Self::Admitted { inner, headers } => {
                let mut result = ready!(inner.as_mut().poll(cx));
                add_headers(&mut result, headers.take().unwrap_or_default());
                Poll::Ready(result)
            }
            // Taken once; a future is not polled after it is ready.
            Self::Refused { error } => error.take().map_or(Poll::Pending, |e| Poll::Ready(Err(e))),
            Self::Checking { inner } => inner.as_mut().poll(cx),
        }
    }
}

/// Adds the limits' headers to the answer, or to the pipeline's error.
fn add_headers(result: &mut Result<Response<GatewayBody>, GatewayError>, headers: RateHeaders) {
    match result {
        Ok(response) => headers.apply(response.headers_mut()),
        Err(error) => headers.apply(&mut error.headers),
    }
}

/// Checks every limit of a layer kept in local memory, in order, into
/// `report`; the refusal when one is over.
fn check_locally(
    limits: &Limits,
    report: &mut Report,
    request: &Request<GatewayBody>,
) -> Option<GatewayError> {
    KEY.with_borrow_mut(|key| {
        for (index, limiter) in limits.limiters.iter().enumerate() {
            if !request_key(key, limiter, request) {
                continue;
            }
            let outcome = limiter.local.check(key);
            let refused = record(limits, report, index, outcome, || WireForm::of(request));
            if refused.is_some() {
                return refused;
            }
        }
        None
    })
}

/// Checks the limits one by one, awaiting those kept in Redis, then runs
/// the pipeline.
async fn admit(
    limits: Arc<Limits>,
    mut inner: RouteService,
    request: Request<GatewayBody>,
) -> Result<Response<GatewayBody>, GatewayError> {
    // Read all the request needs before the first await: nothing borrows
    // it across one.
    let keys: Vec<Option<Vec<u8>>> = limits
        .limiters
        .iter()
        .map(|limiter| {
            let mut key = Vec::new();
            request_key(&mut key, limiter, &request).then_some(key)
        })
        .collect();
    let form = WireForm::of(&request);
    let mut report = Report::default();
    for (index, (limiter, key)) in limits.limiters.iter().zip(keys).enumerate() {
        let Some(key) = key else {
            continue;
        };
        let outcome = limiter.check(&key).await;
        if let Some(refusal) = record(&limits, &mut report, index, outcome, || form) {
            return Err(refusal);
        }
    }
    // `inner` was polled ready by `poll_ready`.
    let mut result = inner.call(request).await;
    add_headers(&mut result, report.values(&limits.policies));
    result
}

/// Adds limit `index`'s outcome to the report; over the limit (or Redis
/// down with `failure_mode: closed`), the refusal to answer with.
fn record(
    limits: &Limits,
    report: &mut Report,
    index: usize,
    outcome: Outcome,
    form: impl FnOnce() -> WireForm,
) -> Option<GatewayError> {
    let name = limits.limiters[index].spec.name.as_str();
    let policies = &limits.policies;
    match outcome {
        Outcome::Allowed { remaining, reset } => {
            report.push(policies, index, name, remaining, reset);
            None
        }
        Outcome::Limited { retry_after, reset } => {
            report.push(policies, index, name, 0, reset);
            let refused = Refusal::Limited(name);
            Some(refusal(form(), report, policies, refused, retry_after))
        }
        Outcome::Unavailable => {
            let refused = Refusal::Unavailable(name);
            Some(refusal(
                form(),
                report,
                policies,
                refused,
                Duration::from_secs(1),
            ))
        }
    }
}

/// Writes the request's key for `limiter` into `key`; `false` when the
/// limit does not apply.
fn request_key(key: &mut Vec<u8>, limiter: &Limiter, request: &Request<GatewayBody>) -> bool {
    let extensions = request.extensions();
    let client_ip = extensions
        .get::<RequestContext>()
        .map(|ctx| ctx.client.ip)
        .or_else(|| extensions.get::<EdgeContext>().map(|edge| edge.client.ip));
    let Some(client_ip) = client_ip else {
        return false;
    };
    let inputs = KeyInputs {
        client_ip,
        headers: request.headers(),
        principal: extensions.get::<Principal>(),
    };
    write_key(key, &limiter.spec.key, limiter.spec.missing_key, &inputs)
}

enum Refusal<'a> {
    Limited(&'a str),
    Unavailable(&'a str),
}

fn refusal(
    form: WireForm,
    report: &Report,
    policies: &Policies,
    refusal: Refusal<'_>,
    retry_after: Duration,
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
    report.apply(policies, &mut error.headers);
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
