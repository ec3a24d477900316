//! A subscriber's HTTP side: `POST /events` receives deliveries (the
//! CloudEvents binary binding), `/control/*` lets tests read what it got
//! and inject faults, `/healthz` answers 200.
//!
//! | method and path | what |
//! |---|---|
//! | `POST /events` | a delivery: recorded, then failed as injected, else handled and 200 |
//! | `GET /control/deliveries` | every recorded delivery, oldest first |
//! | `DELETE /control/deliveries` | forgets deliveries, handled ids, reservations, publishes |
//! | `GET /control/faults`, `PUT /control/faults` | the injected faults (`fail_next`, `fail_all`, `status`, `delay_ms`) |
//! | `GET /control/reservations` | `inventory`'s stock reservations |
//! | `GET /control/published` | `payment-processor`'s `PaymentCompleted` publishes and their statuses |

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, StatusCode};
use serde_json::json;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::log::{RecordedDelivery, Reservation, SubscriberState};
use super::{Shared, SubscriberFaults, SubscriberKind, SubscriberOptions};
use crate::error::MockError;

#[derive(Clone)]
struct AppState {
    kind: SubscriberKind,
    state: Shared,
    /// Set at start, or once later ([`SubscriberHandle::set_publish_url`]).
    publish_url: Arc<std::sync::OnceLock<Arc<str>>>,
}

/// A running subscriber; dropping it stops it.
#[derive(Debug)]
pub struct SubscriberHandle {
    pub kind: SubscriberKind,
    pub addr: SocketAddr,
    state: Shared,
    publish_url: Arc<std::sync::OnceLock<Arc<str>>>,
    _stop: DropGuard,
}

impl SubscriberHandle {
    /// `http://{addr}`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn deliveries(&self) -> Vec<RecordedDelivery> {
        self.state.deliveries()
    }

    pub fn reservations(&self) -> Vec<Reservation> {
        self.state.reservations()
    }

    /// `PaymentCompleted` publishes: (event id, the gateway's status).
    pub fn published(&self) -> Vec<(String, u16)> {
        self.state.published()
    }

    pub fn set_faults(&self, faults: SubscriberFaults) {
        self.state.set_faults(faults);
    }

    pub fn faults(&self) -> SubscriberFaults {
        self.state.faults()
    }

    pub fn clear(&self) {
        self.state.clear();
    }

    /// Where `payment-processor` publishes, when it was started without
    /// one (the gateway's address is known only after it started, and the
    /// gateway's config needs this subscriber's). False if already set.
    pub fn set_publish_url(&self, url: &str) -> bool {
        self.publish_url.set(Arc::from(url)).is_ok()
    }

    /// Waits until the deliveries satisfy `condition` and returns them
    /// (wrap in `tokio::time::timeout` in tests).
    pub async fn wait_for(
        &self,
        mut condition: impl FnMut(&[RecordedDelivery]) -> bool,
    ) -> Vec<RecordedDelivery> {
        let mut changes = self.state.watch();
        loop {
            let deliveries = self.deliveries();
            if condition(&deliveries) {
                return deliveries;
            }
            if changes.changed().await.is_err() {
                return self.deliveries();
            }
        }
    }

    /// Waits until `condition` holds of the publishes.
    pub async fn wait_for_published(
        &self,
        mut condition: impl FnMut(&[(String, u16)]) -> bool,
    ) -> Vec<(String, u16)> {
        let mut changes = self.state.watch();
        loop {
            let published = self.published();
            if condition(&published) {
                return published;
            }
            if changes.changed().await.is_err() {
                return self.published();
            }
        }
    }
}

/// Starts `kind` on `addr` (port 0: a free port).
pub async fn start_subscriber(
    kind: SubscriberKind,
    addr: SocketAddr,
    options: SubscriberOptions,
) -> Result<SubscriberHandle, MockError> {
    let state = Arc::new(SubscriberState::new(options.faults));
    let publish_url = Arc::new(std::sync::OnceLock::new());
    if let Some(url) = options.publish_url {
        let _ = publish_url.set(Arc::from(url));
    }
    let app = AppState {
        kind,
        state: Arc::clone(&state),
        publish_url: Arc::clone(&publish_url),
    };
    let router = Router::new()
        .route("/events", post(receive))
        .route("/control/deliveries", get(list).delete(clear))
        .route("/control/faults", get(faults).put(set_faults))
        .route("/control/reservations", get(reservations))
        .route("/control/published", get(published))
        .route(
            "/healthz",
            get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| MockError::Bind {
            service: kind.name(),
            addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| MockError::Bind {
        service: kind.name(),
        addr,
        source,
    })?;
    let stop = CancellationToken::new();
    let shutdown = stop.clone();
    tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(error) = served {
            tracing::warn!(%error, "subscriber stopped serving");
        }
    });
    Ok(SubscriberHandle {
        kind,
        addr,
        state,
        publish_url,
        _stop: stop.drop_guard(),
    })
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Percent-decodes a `ce-*` value (the binding encodes some bytes).
fn ce(headers: &HeaderMap, name: &str) -> Option<String> {
    let raw = header(headers, &format!("ce-{name}"))?;
    Some(percent_decode(&raw))
}

fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn receive(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let arrived = Instant::now();
    let (failure, delay) = app.state.fault_for_next();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let (Some(id), Some(event_type)) = (ce(&headers, "id"), ce(&headers, "type")) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": {"code": "NOT_A_CLOUDEVENT", "message": "ce-id and ce-type are required (CloudEvents binary binding)"}})),
        )
            .into_response();
    };
    let body_json: serde_json::Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into_owned()));
    let ignored = !app.kind.handles().contains(&event_type.as_str());
    let status = failure.unwrap_or(StatusCode::OK);
    let duplicate = status.is_success() && !app.state.first_time(&id);
    let record = RecordedDelivery {
        id: id.clone(),
        event_type: event_type.clone(),
        source: ce(&headers, "source").unwrap_or_default(),
        subject: ce(&headers, "subject"),
        attempt: header(&headers, "x-gateway-delivery-attempt")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        traceparent: header(&headers, "traceparent"),
        headers: headers
            .iter()
            .map(|(name, value)| {
                (
                    name.to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body_json.clone(),
        raw_body: body.clone(),
        received_at: SubscriberState::now_rfc3339(),
        received_ms: app.state.millis_since_start(arrived),
        status: status.as_u16(),
        duplicate,
        ignored,
        arrived: Some(arrived),
    };
    app.state.record(record);
    if let Some(status) = failure {
        return (
            status,
            axum::Json(json!({"error": {"code": "INJECTED_FAULT", "message": format!("injected failure: {} answers {status}", app.kind.name())}})),
        )
            .into_response();
    }
    if !ignored && !duplicate {
        act(&app, &id, &event_type, &headers, &body_json);
    }
    axum::Json(json!({"received": id, "duplicate": duplicate, "ignored": ignored})).into_response()
}

/// What the service does with a first-time event it handles.
fn act(app: &AppState, id: &str, event_type: &str, headers: &HeaderMap, data: &serde_json::Value) {
    let order_id = data
        .get("order_id")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .or_else(|| ce(headers, "subject"));
    match (app.kind, event_type) {
        (SubscriberKind::Inventory, "OrderPlaced") => app.state.reserve(Reservation {
            event_id: id.to_owned(),
            order_id,
            items: data
                .get("items")
                .cloned()
                .unwrap_or(serde_json::Value::Null),
        }),
        (SubscriberKind::PaymentProcessor, "OrderPlaced") => {
            if let Some(url) = app.publish_url.get() {
                let payment = json!({
                    "specversion": "1.0",
                    "id": uuid::Uuid::new_v4().to_string(),
                    "source": "/payment-processor",
                    "type": "PaymentCompleted",
                    "subject": order_id,
                    "datacontenttype": "application/json",
                    "data": {"order_id": order_id, "amount": data.get("total").cloned(), "caused_by": id},
                });
                let traceparent = header(headers, "traceparent");
                tokio::spawn(publish(
                    Arc::clone(&app.state),
                    Arc::clone(url),
                    payment,
                    traceparent,
                ));
            }
        }
        _ => {}
    }
}

/// POSTs `PaymentCompleted` to the gateway's publish route (structured
/// CloudEvent JSON), continuing the delivery's trace.
async fn publish(
    state: Shared,
    url: Arc<str>,
    event: serde_json::Value,
    traceparent: Option<String>,
) {
    use http_body_util::Full;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let id = event["id"].as_str().unwrap_or_default().to_owned();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = http::Request::post(&*url).header("content-type", "application/json");
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    let status = match request.body(Full::new(Bytes::from(event.to_string()))) {
        Ok(request) => {
            match tokio::time::timeout(std::time::Duration::from_secs(10), client.request(request))
                .await
            {
                Ok(Ok(response)) => response.status().as_u16(),
                Ok(Err(error)) => {
                    tracing::warn!(%error, %url, "publishing PaymentCompleted failed");
                    0
                }
                Err(_) => 0,
            }
        }
        Err(error) => {
            tracing::warn!(%error, %url, "bad publish URL");
            0
        }
    };
    state.note_published(id, status);
}

async fn list(State(app): State<AppState>) -> impl IntoResponse {
    axum::Json(json!({"service": app.kind.name(), "deliveries": app.state.deliveries()}))
}

async fn clear(State(app): State<AppState>) -> impl IntoResponse {
    app.state.clear();
    StatusCode::NO_CONTENT
}

async fn faults(State(app): State<AppState>) -> impl IntoResponse {
    axum::Json(app.state.faults())
}

async fn set_faults(State(app): State<AppState>, body: Bytes) -> Response {
    match serde_json::from_slice::<SubscriberFaults>(&body) {
        Ok(faults) => {
            app.state.set_faults(faults.clone());
            axum::Json(faults).into_response()
        }
        Err(error) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": {"code": "BAD_FAULTS", "message": format!("expected {{fail_next, fail_all, status, delay_ms}}: {error}")}})),
        )
            .into_response(),
    }
}

async fn reservations(State(app): State<AppState>) -> impl IntoResponse {
    axum::Json(json!({"reservations": app.state.reservations()}))
}

async fn published(State(app): State<AppState>) -> impl IntoResponse {
    let list: Vec<_> = app
        .state
        .published()
        .into_iter()
        .map(|(id, status)| json!({"id": id, "status": status}))
        .collect();
    axum::Json(json!({"published": list}))
}
