//! `load_shedding` (policy slot 4): a route's concurrency limit. A request
//! takes a slot from the route's [`ConcurrencyLimiter`] (waiting in its
//! short queue if needed) and keeps it until its response body ends; a
//! request that finds the queue full, or waits past the queue timeout, is
//! refused with 503 `OVERLOADED` and `Retry-After`, in the route's wire
//! form (JSON, `google.rpc.Status`, gRPC `UNAVAILABLE`, GraphQL). With
//! `adaptive`, each response head feeds the AIMD limit its latency.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use http::header::{ACCEPT, HeaderValue, RETRY_AFTER};
use http::{Request, Response, StatusCode};
use tower::{Layer, Service};

use super::concurrency_limiter::{ConcurrencyLimiter, Refusal};
use crate::body::{self, GatewayBody, HoldingBody};
use crate::config::model::grpc::GrpcModeSpec;
use crate::config::model::{LoadSheddingSpec, RouteAction, RouteSpec};
use crate::edge_error::{ErrorFormat, GatewayError};
use crate::pipeline::{PolicyLayer, RouteService};

/// gRPC `UNAVAILABLE`: the code a client retries elsewhere, later.
const GRPC_UNAVAILABLE: i32 = 14;

/// The route's `load_shedding` layer.
pub fn load_shedding(route: &RouteSpec, spec: &LoadSheddingSpec) -> PolicyLayer {
    PolicyLayer::new(
        "load_shedding",
        LoadSheddingLayer {
            limiter: Arc::new(ConcurrencyLimiter::new(spec)),
            refusal: RefusalForm::of(route, spec.retry_after_secs),
        },
    )
}

#[derive(Clone)]
struct LoadSheddingLayer {
    limiter: Arc<ConcurrencyLimiter>,
    refusal: RefusalForm,
}

impl Layer<RouteService> for LoadSheddingLayer {
    type Service = LoadShedding;

    fn layer(&self, inner: RouteService) -> Self::Service {
        LoadShedding {
            inner,
            limiter: Arc::clone(&self.limiter),
            refusal: self.refusal,
        }
    }
}

#[derive(Clone)]
struct LoadShedding {
    inner: RouteService,
    limiter: Arc<ConcurrencyLimiter>,
    refusal: RefusalForm,
}

impl Service<Request<GatewayBody>> for LoadShedding {
    type Response = Response<GatewayBody>;
    type Error = GatewayError;
    type Future = BoxFuture<'static, Result<Response<GatewayBody>, GatewayError>>;

    /// Always ready: the slot is taken in `call`, so that a request
    /// waits in the bounded queue, never in readiness.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), GatewayError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<GatewayBody>) -> Self::Future {
        let inner = self.inner.clone();
        let limiter = Arc::clone(&self.limiter);
        let refusal = self.refusal;
        let graphql_media = refusal.graphql_media(&request);
        Box::pin(async move {
            let slot = limiter
                .acquire()
                .await
                .map_err(|why| refusal.error(why, graphql_media))?;
            let started = Instant::now();
            let result = crate::pipeline::policy::call_ready(inner, request).await;
            let failed = match &result {
                Ok(response) => response.status().is_server_error(),
                Err(_) => true,
            };
            slot.observe(started.elapsed(), failed);
            // The slot is held until the response body ends or is dropped.
            result.map(|response| {
                response.map(|body| body::boxed_as_is(HoldingBody::new(body, slot)))
            })
        })
    }
}

/// How a refusal reads on this route.
#[derive(Debug, Clone, Copy)]
struct RefusalForm {
    kind: RouteKind,
    retry_after_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RouteKind {
    Json,
    GrpcTranscoded,
    GrpcNative,
    Graphql,
}

impl RefusalForm {
    fn of(route: &RouteSpec, retry_after_secs: u64) -> Self {
        let kind = match &route.action {
            RouteAction::Grpc(grpc) => match grpc.mode {
                GrpcModeSpec::Passthrough => RouteKind::GrpcNative,
                GrpcModeSpec::Transcode(_) => RouteKind::GrpcTranscoded,
            },
            RouteAction::Graphql => RouteKind::Graphql,
            RouteAction::Proxy(_)
            | RouteAction::Compose(_)
            | RouteAction::GraphiqlAsset
            | RouteAction::Publish(_)
            | RouteAction::AsyncStatus => RouteKind::Json,
        };
        Self {
            kind,
            retry_after_secs,
        }
    }

    /// The GraphQL media type the client accepts (GraphQL routes only).
    fn graphql_media(&self, request: &Request<GatewayBody>) -> &'static str {
        let accepts_graphql_response = request
            .headers()
            .get_all(ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|value| value.contains(crate::graphql::request::GRAPHQL_RESPONSE_JSON));
        if self.kind == RouteKind::Graphql && accepts_graphql_response {
            crate::graphql::request::GRAPHQL_RESPONSE_JSON
        } else {
            "application/json"
        }
    }

    fn error(&self, refusal: Refusal, graphql_media: &'static str) -> GatewayError {
        let message = match refusal {
            Refusal::QueueFull => "the route is at its concurrency limit; retry later",
            Refusal::QueueTimeout(_) => {
                "the route is at its concurrency limit and no slot came free in time; retry later"
            }
        };
        let format = match self.kind {
            RouteKind::Json => ErrorFormat::Json,
            RouteKind::GrpcTranscoded => ErrorFormat::RpcStatus {
                grpc_code: GRPC_UNAVAILABLE,
                details: vec![serde_json::json!({
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "OVERLOADED",
                    "domain": "gateway",
                })],
            },
            RouteKind::GrpcNative => ErrorFormat::Grpc {
                grpc_code: GRPC_UNAVAILABLE,
            },
            RouteKind::Graphql => ErrorFormat::Graphql {
                content_type: graphql_media,
            },
        };
        let status = if self.kind == RouteKind::GrpcNative {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        GatewayError::new(status, "OVERLOADED", message)
            .with_format(format)
            .with_header(RETRY_AFTER, HeaderValue::from(self.retry_after_secs))
            .with_source(refusal)
    }
}
