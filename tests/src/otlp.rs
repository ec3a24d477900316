//! A real OTLP trace receiver for the trace tests: the OTLP `TraceService`
//! over gRPC (tonic, from the published `opentelemetry-proto`
//! definitions) and `POST /v1/traces` over HTTP with protobuf bodies,
//! both on 127.0.0.1 port 0, collecting every span they are sent.
//!
//! [`Collector`] keeps the spans; tests await the ones they expect with
//! [`Collector::wait_for`] (woken by each export, never polling on a
//! timer).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;

use crate::gateway::EVENTUALLY;

/// One received span, flattened.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    pub name: String,
    /// OTLP `SpanKind`: 2 server, 3 client, 1 internal.
    pub kind: i32,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    pub attributes: BTreeMap<String, String>,
    /// OTLP status code: 0 unset, 1 ok, 2 error.
    pub status_code: i32,
    pub status_message: String,
    /// The resource attributes of the batch it came in.
    pub resource: BTreeMap<String, String>,
}

pub const SPAN_KIND_INTERNAL: i32 = 1;
pub const SPAN_KIND_SERVER: i32 = 2;
pub const SPAN_KIND_CLIENT: i32 = 3;
pub const STATUS_ERROR: i32 = 2;

impl ReceivedSpan {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    /// Whether the two spans were open at overlapping times.
    pub fn overlaps(&self, other: &ReceivedSpan) -> bool {
        self.start_unix_nanos < other.end_unix_nanos && other.start_unix_nanos < self.end_unix_nanos
    }
}

/// The spans received so far, shared by both receivers.
#[derive(Debug, Clone)]
pub struct Collector {
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    changes: watch::Sender<u64>,
    /// Spans received, kept or not.
    received: Arc<AtomicU64>,
    /// False for [`Collector::counting`].
    keeps_spans: bool,
}

impl Default for Collector {
    fn default() -> Self {
        Self {
            spans: Arc::default(),
            changes: watch::Sender::new(0),
            received: Arc::default(),
            keeps_spans: true,
        }
    }
}

impl Collector {
    /// A collector that only counts the spans it receives (the comparison
    /// suite's: traces at 100 % under load would fill memory).
    pub fn counting() -> Self {
        Self {
            keeps_spans: false,
            ..Self::default()
        }
    }

    /// How many spans were received.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Waits until no span has arrived for `quiet` (at most `limit`): an
    /// exporter's backlog is received (and costs the receiver's CPU)
    /// after the load that made it has stopped.
    pub async fn settle(&self, quiet: Duration, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        let mut last = self.received();
        let mut still_since = tokio::time::Instant::now();
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(quiet / 4).await;
            let now = self.received();
            if now != last {
                (last, still_since) = (now, tokio::time::Instant::now());
            } else if still_since.elapsed() >= quiet {
                return;
            }
        }
    }

    fn add(&self, request: ExportTraceServiceRequest) {
        if !self.keeps_spans {
            let count = request
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|scope| scope.spans.len() as u64)
                .sum();
            self.received.fetch_add(count, Ordering::Relaxed);
            return;
        }
        let mut received = Vec::new();
        for resource_spans in request.resource_spans {
            let resource = resource_spans
                .resource
                .map(|resource| flatten(&resource.attributes))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    let status = span.status.unwrap_or_default();
                    received.push(ReceivedSpan {
                        trace_id: hex::encode(&span.trace_id),
                        span_id: hex::encode(&span.span_id),
                        parent_span_id: hex::encode(&span.parent_span_id),
                        name: span.name,
                        kind: span.kind,
                        start_unix_nanos: span.start_time_unix_nano,
                        end_unix_nanos: span.end_time_unix_nano,
                        attributes: flatten(&span.attributes),
                        status_code: status.code,
                        status_message: status.message,
                        resource: resource.clone(),
                    });
                }
            }
        }
        self.received
            .fetch_add(received.len() as u64, Ordering::Relaxed);
        self.spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(received);
        self.changes.send_modify(|count| *count += 1);
    }

    /// Every span of `trace_id` received so far.
    pub fn trace(&self, trace_id: &str) -> Vec<ReceivedSpan> {
        self.spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|span| span.trace_id == trace_id)
            .cloned()
            .collect()
    }

    /// Every span received so far.
    pub fn all(&self) -> Vec<ReceivedSpan> {
        self.spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits (woken by each export) until the spans of `trace_id` satisfy
    /// `done`; fails the test after `EVENTUALLY`.
    pub async fn wait_for(
        &self,
        trace_id: &str,
        mut done: impl FnMut(&[ReceivedSpan]) -> bool,
    ) -> Vec<ReceivedSpan> {
        let mut changes = self.changes.subscribe();
        let waited = tokio::time::timeout(EVENTUALLY, async {
            loop {
                let spans = self.trace(trace_id);
                if done(&spans) {
                    return spans;
                }
                if changes.changed().await.is_err() {
                    return spans;
                }
            }
        })
        .await;
        waited.unwrap_or_else(|_| {
            panic!(
                "timed out waiting for the spans of trace {trace_id}; got {:#?}",
                self.trace(trace_id)
            )
        })
    }
}

fn flatten(attributes: &[KeyValue]) -> BTreeMap<String, String> {
    attributes
        .iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map(text).unwrap_or_default(),
            )
        })
        .collect()
}

fn text(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.add(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// Serves the OTLP gRPC trace service into `collector`; returns its
/// address (`http://` + it is the exporter's endpoint).
pub async fn serve_grpc(collector: Collector) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind OTLP/gRPC");
    let addr = listener.local_addr().expect("OTLP/gRPC address");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    addr
}

/// Serves `POST /v1/traces` (OTLP/HTTP, protobuf) into `collector`.
pub async fn serve_http(collector: Collector) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind OTLP/HTTP");
    let addr = listener.local_addr().expect("OTLP/HTTP address");
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: Bytes| {
            let collector = collector.clone();
            async move { export_http(&collector, &headers, &body) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn export_http(
    collector: &Collector,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> axum::response::Response {
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        != Some("application/x-protobuf")
    {
        return StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response();
    }
    match ExportTraceServiceRequest::decode(body) {
        Ok(request) => {
            collector.add(request);
            let answer = ExportTraceServiceResponse {
                partial_success: None,
            };
            (
                [(header::CONTENT_TYPE, "application/x-protobuf")],
                answer.encode_to_vec(),
            )
                .into_response()
        }
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}
