//! The OTLP/HTTP (protobuf) exporter, built from a `tracing:` section with
//! `protocol: http`, sends the gateway's spans to a real OTLP/HTTP
//! receiver.

use std::net::SocketAddr;

use gateway::context::ClientIp;
use gateway::observe::otel::{TracingPipeline, spans};
use tests::otlp::{Collector, SPAN_KIND_CLIENT, SPAN_KIND_SERVER, serve_http};
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test]
async fn spans_are_exported_over_otlp_http_protobuf() {
    super::traces();
    let collector = Collector::default();
    let addr = serve_http(collector.clone()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("routes.yaml");
    std::fs::write(
        &path,
        format!(
            "tracing:\n  enabled: true\n  service_name: http-exported\n  resource: {{ team: edge }}\n  exporter: {{ protocol: http, endpoint: \"http://{addr}\" }}\n"
        ),
    )
    .expect("write config");
    let settings = gateway::config::load_tracing(&path).expect("a valid tracing section");
    assert_eq!(
        settings.exporter.endpoint,
        format!("http://{addr}/v1/traces")
    );
    let pipeline = TracingPipeline::start(&settings).expect("pipeline");
    let subscriber = tracing_subscriber::registry().with(pipeline.layer());
    let trace_id = tracing::subscriber::with_default(subscriber, || {
        let request = http::Request::get("/v1/orders/1")
            .body(())
            .expect("request");
        let client = ClientIp::direct(SocketAddr::from(([127, 0, 0, 1], 4000)));
        let server = spans::server(&request, &client);
        let trace_id = spans::trace_id(&server).expect("a trace id");
        let upstream = http::Request::get("http://127.0.0.1:9/v1/orders/1")
            .body(())
            .expect("upstream request");
        let _client = server.in_scope(|| spans::client(&upstream, "orders"));
        trace_id
    });
    tokio::task::spawn_blocking(move || {
        pipeline.force_flush().expect("flush");
        drop(pipeline);
    })
    .await
    .expect("flush task");
    let spans = collector
        .wait_for(&trace_id, |spans| spans.len() >= 2)
        .await;
    let server = spans
        .iter()
        .find(|s| s.kind == SPAN_KIND_SERVER)
        .expect("server span");
    let client = spans
        .iter()
        .find(|s| s.kind == SPAN_KIND_CLIENT)
        .expect("client span");
    assert_eq!(client.parent_span_id, server.span_id);
    assert_eq!(
        server.resource.get("service.name").map(String::as_str),
        Some("http-exported")
    );
    assert_eq!(
        server.resource.get("team").map(String::as_str),
        Some("edge")
    );
}

#[test]
fn a_bad_tracing_section_is_refused_with_positions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("routes.yaml");
    std::fs::write(
        &path,
        "routes: []\ntracing:\n  enabled: true\n  sampling: { ratio: 1.5 }\n  exporter: { protocol: grpc, endpoint: \"ftp://collector\" }\n",
    )
    .expect("write config");
    assert!(gateway::config::load_tracing(&path).is_none());
    let errors = gateway::config::load_file(&path)
        .expect_err("refused")
        .to_string();
    assert!(
        errors.contains("routes.yaml:4:22: tracing.sampling.ratio: 1.5 is not between 0.0 and 1.0"),
        "{errors}"
    );
    assert!(
        errors.contains("routes.yaml:5:41: tracing.exporter.endpoint"),
        "{errors}"
    );
}
