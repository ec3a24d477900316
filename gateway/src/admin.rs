//! The admin listener: liveness, readiness, the active config, reload.
//!
//! | path | answer |
//! |---|---|
//! | `GET /healthz` | 200 while the process runs |
//! | `GET /readyz` | 200 while serving, 503 once draining |
//! | `GET /config` | the active version, hash, file, routes, backends and the last reload's errors |
//! | `GET /upstreams` | every backend's endpoints (GraphQL subgraphs as `subgraph:<name>`): in-flight, failures, failure ratio, ejected; its retry budget and circuit breaker (`resilience`) |
//! | `GET /workers` | the worker count, each worker's open connections, and the connections refused at a limit |
//! | `GET /metrics` | the Prometheus metrics (docs/observability.md); 404 when `metrics.enabled` is false |
//! | `POST /reload` | reloads now; 200 with the outcome (`reloaded`, `unchanged`), 422 with every error |
//! | `POST /reopen_logs` | reopens the access log's file after log rotation (as SIGUSR1 does); 200 once done |
//! | `/events/subscriptions...` | the event bus's subscriptions, dead letters, replay and purge (`admin::events`) |

mod events;
mod metrics;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tower::util::BoxCloneSyncService;

use crate::body::{self, GatewayBody};
use crate::config::model::{RouteAction, RouteSpec};
use crate::layers::GatewayService;
use crate::observe::metrics::Metrics;
use crate::reload::{ReloadOutcome, Reloader};
use crate::workers::WorkerLoad;

/// Shared admin state.
#[derive(Debug)]
pub struct AdminState {
    pub reloader: Arc<Reloader>,
    pub draining: AtomicBool,
    pub workers: WorkerLoad,
    /// `None` when `metrics.enabled` is false.
    pub metrics: Option<Arc<Metrics>>,
    /// The event bus's delivery workers; `None` without `events:`.
    pub deliveries: Option<Arc<crate::events::delivery::DeliveryEngine>>,
    /// Reopens the access log's file; `None` unless it writes to one.
    pub access_log: Option<crate::access_log::ReopenHandle>,
}

/// The admin service.
pub fn admin_service(state: Arc<AdminState>) -> GatewayService {
    BoxCloneSyncService::new(tower::service_fn(move |request: Request<GatewayBody>| {
        let state = Arc::clone(&state);
        let (method, path) = (request.method().clone(), request.uri().path().to_owned());
        let query = request.uri().query().map(str::to_owned);
        async move {
            if path.starts_with(events::PREFIX) {
                let engine = state.deliveries.as_deref();
                return Ok(events::handle(engine, &method, &path, query.as_deref()).await);
            }
            Ok::<_, Infallible>(handle(&state, &method, &path).await)
        }
    }))
}

async fn handle(state: &AdminState, method: &Method, path: &str) -> Response<GatewayBody> {
    match (method, path) {
        (&Method::GET, "/healthz") => json_response(StatusCode::OK, json!({"status": "ok"})),
        (&Method::GET, "/readyz") if state.draining.load(Ordering::Relaxed) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "draining"}),
        ),
        (&Method::GET, "/readyz") => json_response(StatusCode::OK, json!({"status": "ready"})),
        (&Method::GET, "/config") => json_response(StatusCode::OK, config_report(state)),
        (&Method::GET, "/upstreams") => json_response(StatusCode::OK, upstreams_report(state)),
        (&Method::GET, "/workers") => {
            let open = state.workers.open_connections();
            json_response(
                StatusCode::OK,
                json!({"workers": open.len(), "open_connections": open, "rejected_connections": state.workers.rejected_connections()}),
            )
        }
        (&Method::GET, "/metrics") => {
            if let Some(engine) = &state.deliveries {
                engine.refresh_gauges().await;
            }
            metrics::scrape(state)
        }
        (&Method::POST, "/reload") => reload(state).await,
        (&Method::POST, "/reopen_logs") => reopen_logs(state).await,
        (_, path) => json_response(
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "NO_ROUTE", "message": format!("admin has no {path}; try /healthz, /readyz, /config, /upstreams, /workers, /metrics, POST /reload, POST /reopen_logs, /events/subscriptions")}}),
        ),
    }
}

fn config_report(state: &AdminState) -> Value {
    let snapshot = state.reloader.current();
    let status = state.reloader.status();
    json!({
        "version": snapshot.version,
        "hash": snapshot.config.hash,
        "path": state.reloader.path().display().to_string(),
        "loaded_at": DateTime::<Utc>::from(snapshot.loaded_at).to_rfc3339(),
        "routes": snapshot.config.routes.iter().map(|route| route_report(route)).collect::<Vec<_>>(),
        "backends": snapshot.config.backends.keys().collect::<Vec<_>>(),
        "last_reload_error": status.last_error,
        "rejected_reloads": status.rejected,
    })
}

/// One route: its name, methods (`null`: any), pattern, host and action.
fn route_report(route: &RouteSpec) -> Value {
    let methods = route
        .methods
        .as_ref()
        .map(|methods| methods.iter().map(Method::as_str).collect::<Vec<_>>());
    json!({
        "name": route.name,
        "methods": methods,
        "pattern": route.path.to_string(),
        "host": route.host,
        "action": action_report(&route.action),
    })
}

fn action_report(action: &RouteAction) -> Value {
    match action {
        RouteAction::Proxy(proxy) => json!({"proxy": {"backend": proxy.backend.name}}),
        RouteAction::Compose(_) => json!("compose"),
        RouteAction::Grpc(grpc) => json!({"grpc": {"backend": grpc.backend.name}}),
        RouteAction::Graphql => json!("graphql"),
        RouteAction::GraphiqlAsset => json!("graphiql_asset"),
        RouteAction::Publish(publish) => json!({"publish": {"topic": publish.topic.name}}),
        RouteAction::AsyncStatus => json!("async_status"),
    }
}

/// Every backend's pool by name, then the current supergraph's subgraph
/// pools as `subgraph:<name>`.
fn upstreams_report(state: &AdminState) -> Value {
    let snapshot = state.reloader.current();
    let mut backends: serde_json::Map<String, Value> = snapshot
        .upstreams
        .iter()
        .map(|(name, pool)| {
            (
                name.to_owned(),
                json!({"endpoints": pool.endpoint_states(), "resilience": pool.resilience_state()}),
            )
        })
        .collect();
    let supergraph = snapshot
        .graphql
        .as_ref()
        .and_then(|service| service.current());
    for client in supergraph.iter().flat_map(|s| s.subgraphs.values()) {
        backends.insert(
            client.pool.spec().name.clone(),
            json!({"endpoints": client.pool.endpoint_states(), "resilience": client.pool.resilience_state()}),
        );
    }
    Value::Object(backends)
}

async fn reload(state: &AdminState) -> Response<GatewayBody> {
    match state.reloader.reload().await {
        Ok(ReloadOutcome::Applied { version }) => json_response(
            StatusCode::OK,
            json!({"reloaded": true, "unchanged": false, "version": version}),
        ),
        Ok(ReloadOutcome::Unchanged { version }) => json_response(
            StatusCode::OK,
            json!({"reloaded": false, "unchanged": true, "version": version}),
        ),
        Err(error) => {
            let problems = error.problems(&state.reloader.path().display().to_string());
            let message = format!(
                "config rejected with {} error(s); version {} keeps serving",
                problems.len(),
                state.reloader.current().version
            );
            json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"error": {"code": "CONFIG_REJECTED", "message": message, "errors": problems}}),
            )
        }
    }
}

fn json_response(status: StatusCode, value: Value) -> Response<GatewayBody> {
    let mut response = Response::new(body::full(value.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `POST /reopen_logs` (Envoy's name): the access log's file reopened at
/// its path, after log rotation moved it; answered once the writer thread
/// has done it.
async fn reopen_logs(state: &AdminState) -> Response<GatewayBody> {
    let Some(handle) = &state.access_log else {
        return json_response(
            StatusCode::OK,
            json!({"reopened": false, "reason": "the access log is off or not written to a file"}),
        );
    };
    match handle.reopen(crate::access_log::REOPEN_PATIENCE).await {
        Some(reopens) if !reopens.last_failed => {
            json_response(StatusCode::OK, json!({"reopened": true}))
        }
        Some(_) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": {"code": "ACCESS_LOG_REOPEN_FAILED", "message": "cannot reopen the access log's file (the gateway's log says why); records still go to the old file"}}),
        ),
        None => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": {"code": "ACCESS_LOG_STOPPED", "message": "the access log's writer has stopped (the gateway is shutting down)"}}),
        ),
    }
}
