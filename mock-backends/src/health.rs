//! What a health checker sees: `GET /healthz` and the gRPC health-checking
//! protocol (`grpc.health.v1.Health`, `Check` and `Watch`), on every
//! service. Both follow the service's serving state
//! ([`crate::Control::set_serving`]): 200 `ok` / `SERVING` while it
//! serves, 503 / `NOT_SERVING` while it does not (its other routes still
//! answer, as a backend draining for maintenance does). A service that is
//! down ([`crate::Control::set_down`]) answers nothing at all.

use std::sync::Arc;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use http::StatusCode;
use tokio_stream::wrappers::WatchStream;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

use crate::control::ControlState;
use crate::control::injection::HEALTH_PATH;
use crate::grpc::ResponseStream;

/// The path prefix of the gRPC health service's methods.
pub const GRPC_HEALTH_PREFIX: &str = "/grpc.health.v1.Health/";

/// `/healthz` and `grpc.health.v1.Health` for a service whose gRPC
/// services (besides the server as a whole, `""`) are `services`.
pub(crate) fn routes(control: Arc<ControlState>, services: &'static [&'static str]) -> Router {
    let healthz_state = Arc::clone(&control);
    let grpc = HealthServer::new(MockHealth { control, services });
    Router::new()
        .route(
            HEALTH_PATH,
            get(move || healthz(Arc::clone(&healthz_state))),
        )
        .route_service(&format!("{GRPC_HEALTH_PREFIX}{{*method}}"), grpc)
}

async fn healthz(control: Arc<ControlState>) -> Response {
    if control.is_serving() {
        "ok".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not serving").into_response()
    }
}

/// `grpc.health.v1.Health` over the service's serving state.
struct MockHealth {
    control: Arc<ControlState>,
    services: &'static [&'static str],
}

impl MockHealth {
    fn knows(&self, service: &str) -> bool {
        service.is_empty() || self.services.contains(&service)
    }
}

fn serving_status(serving: bool) -> ServingStatus {
    if serving {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    }
}

fn reply(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse {
        status: status.into(),
    }
}

#[tonic::async_trait]
impl Health for MockHealth {
    async fn check(
        &self,
        request: tonic::Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<HealthCheckResponse>, tonic::Status> {
        let service = &request.get_ref().service;
        if !self.knows(service) {
            return Err(tonic::Status::not_found(format!(
                "unknown service {service:?}"
            )));
        }
        let status = serving_status(self.control.is_serving());
        Ok(tonic::Response::new(reply(status)))
    }

    type WatchStream = ResponseStream<HealthCheckResponse>;

    async fn watch(
        &self,
        request: tonic::Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<Self::WatchStream>, tonic::Status> {
        if !self.knows(&request.get_ref().service) {
            let unknown = futures::stream::once(async { Ok(reply(ServingStatus::ServiceUnknown)) });
            return Ok(tonic::Response::new(Box::pin(
                unknown.chain(futures::stream::pending()),
            )));
        }
        let changes = WatchStream::new(self.control.watch_serving())
            .map(|serving| Ok(reply(serving_status(serving))));
        Ok(tonic::Response::new(Box::pin(changes)))
    }
}
