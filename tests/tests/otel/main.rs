//! OpenTelemetry traces end to end, in a test binary of their own: the
//! trace pipeline is process-wide (one global `tracing` subscriber), so
//! this binary installs it once, from a `tracing:` section through the
//! gateway's own config loader, exporting over OTLP/gRPC to the harness's
//! real receiver ([`tests::otlp`]). Each test starts its own gateway and
//! mocks and finds its trace by the trace id the mock received in
//! `traceparent`.

mod exporters;
mod handlers;
mod propagation;

use std::sync::OnceLock;

use gateway::observe::otel::TracingPipeline;
use mock_backends::RecordedRequest;
use tests::otlp::{Collector, ReceivedSpan, SPAN_KIND_CLIENT, SPAN_KIND_SERVER, serve_grpc};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The `service.name` the tests' pipeline is configured with.
pub const SERVICE_NAME: &str = "gateway-under-test";

pub struct Traces {
    pub collector: Collector,
    pub pipeline: TracingPipeline,
}

static TRACES: OnceLock<Traces> = OnceLock::new();

/// The process's pipeline and its receiver, started on first use.
pub fn traces() -> &'static Traces {
    TRACES.get_or_init(|| {
        let collector = Collector::default();
        let addr = start_receiver(collector.clone());
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("routes.yaml");
        let yaml = format!(
            "tracing:\n  enabled: true\n  service_name: {SERVICE_NAME}\n  resource: {{ deployment.environment: test }}\n  sampling: {{ ratio: 1.0 }}\n  exporter: {{ protocol: grpc, endpoint: \"http://{addr}\" }}\n  batch: {{ scheduled_delay: 50ms }}\n"
        );
        std::fs::write(&path, yaml).expect("write config");
        let settings = gateway::config::load_tracing(&path).expect("a valid tracing section");
        assert!(settings.enabled);
        let pipeline = TracingPipeline::start(&settings).expect("trace pipeline starts");
        tracing_subscriber::registry()
            .with(pipeline.layer())
            .init();
        Traces {
            collector,
            pipeline,
        }
    })
}

/// The OTLP/gRPC receiver on a thread and runtime of its own, so it
/// outlives each test's runtime.
fn start_receiver(collector: Collector) -> std::net::SocketAddr {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("receiver runtime");
        runtime.block_on(async move {
            let _ = sender.send(serve_grpc(collector).await);
            std::future::pending::<()>().await;
        });
    });
    receiver.recv().expect("receiver address")
}

/// Exports what has ended, then waits for the spans of `trace_id` to
/// satisfy `done` (spans that end later arrive with the next batch).
pub async fn spans_of(
    trace_id: &str,
    done: impl FnMut(&[ReceivedSpan]) -> bool,
) -> Vec<ReceivedSpan> {
    tokio::task::spawn_blocking(|| traces().pipeline.force_flush())
        .await
        .expect("flush task")
        .expect("flush");
    traces().collector.wait_for(trace_id, done).await
}

/// `(trace id, parent span id)` of a W3C `traceparent`.
pub fn traceparent(request: &RecordedRequest) -> (String, String) {
    let value = request
        .headers
        .get("traceparent")
        .unwrap_or_else(|| panic!("{} {} carried no traceparent", request.method, request.path))
        .to_str()
        .expect("ASCII traceparent");
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "traceparent {value}");
    assert_eq!(parts[0], "00", "version of {value}");
    assert_eq!(parts[3], "01", "sampled flag of {value}");
    (parts[1].to_owned(), parts[2].to_owned())
}

/// The server span of a trace: exactly one.
pub fn server_span(spans: &[ReceivedSpan]) -> &ReceivedSpan {
    let servers: Vec<_> = spans
        .iter()
        .filter(|s| s.kind == SPAN_KIND_SERVER)
        .collect();
    assert_eq!(servers.len(), 1, "one server span: {spans:#?}");
    servers[0]
}

/// The client spans of a trace.
pub fn client_spans(spans: &[ReceivedSpan]) -> Vec<&ReceivedSpan> {
    spans
        .iter()
        .filter(|s| s.kind == SPAN_KIND_CLIENT)
        .collect()
}

/// Whether `ancestor` is `span`'s parent, or its parent's, and so on.
pub fn descends_from(spans: &[ReceivedSpan], span: &ReceivedSpan, ancestor: &ReceivedSpan) -> bool {
    let mut parent = span.parent_span_id.clone();
    for _ in 0..spans.len() {
        if parent == ancestor.span_id {
            return true;
        }
        match spans.iter().find(|s| s.span_id == parent) {
            Some(next) => parent = next.parent_span_id.clone(),
            None => return false,
        }
    }
    false
}

/// For every request a mock recorded: its `traceparent` names this trace
/// and, as parent, one of the trace's client spans (the attempt that sent
/// it), which descends from the server span. Returns those client spans.
pub fn assert_upstreams_in_trace<'s>(
    spans: &'s [ReceivedSpan],
    trace_id: &str,
    recorded: &[RecordedRequest],
) -> Vec<&'s ReceivedSpan> {
    let server = server_span(spans);
    recorded
        .iter()
        .map(|request| {
            let (trace, parent) = traceparent(request);
            assert_eq!(trace, trace_id, "{} is in the trace", request.path);
            let client = spans
                .iter()
                .find(|s| s.span_id == parent)
                .unwrap_or_else(|| {
                    panic!(
                        "the parent of {} is a span of the trace: {spans:#?}",
                        request.path
                    )
                });
            assert_eq!(
                client.kind, SPAN_KIND_CLIENT,
                "{} comes from a client span",
                request.path
            );
            assert!(
                descends_from(spans, client, server),
                "the client span of {} descends from the server span",
                request.path
            );
            client
        })
        .collect()
}
