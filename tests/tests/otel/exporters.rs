//! The OTLP/HTTP (protobuf) exporter, built from a `tracing:` section with
//! `protocol: http`, sends the gateway's spans to a real OTLP/HTTP
//! receiver.

use std::net::SocketAddr;

use gateway::context::ClientIp;
use gateway::observe::otel::{TracingPipeline, spans};
use tests::otlp::{Collector, SPAN_KIND_CLIENT, SPAN_KIND_SERVER, serve_grpc, serve_http};
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test]
async fn spans_are_exported_over_otlp_http_protobuf() {
    super::traces();
    let collector = Collector::default();
    let addr = serve_http(collector.clone()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let section = format!(
        "tracing:\n  enabled: true\n  service_name: http-exported\n  resource: {{ team: edge }}\n  exporter: {{ protocol: http, endpoint: \"http://{addr}\" }}\n"
    );
    let (trace_id, flushed) = export_two_spans(dir.path(), &section).await;
    assert_eq!(flushed, Ok(()));
    let settings =
        gateway::config::load_tracing(&dir.path().join("routes.yaml")).expect("valid section");
    assert_eq!(
        settings.exporter.endpoint,
        format!("http://{addr}/v1/traces")
    );
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

/// Starts the pipeline of the `tracing:` section `section`, records a
/// server span over a client span, flushes, and returns the trace id and
/// how the flush went.
async fn export_two_spans(dir: &std::path::Path, section: &str) -> (String, Result<(), String>) {
    let path = dir.join("routes.yaml");
    std::fs::write(&path, section).expect("write config");
    let settings = gateway::config::load_tracing(&path).expect("a valid tracing section");
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
    let flushed = tokio::task::spawn_blocking(move || pipeline.force_flush())
        .await
        .expect("flush task")
        .map_err(|error| error.to_string());
    (trace_id, flushed)
}

/// An `https://` endpoint is reached over TLS, over gRPC (ALPN `h2`) and
/// OTLP/HTTP (`http/1.1`) alike: the collector's certificate checked
/// against `tls.ca`, under the `tls.server_name` SNI, the metadata sent.
/// The collector sits behind a real TLS terminator on a free port.
#[tokio::test]
async fn spans_are_exported_over_tls_to_an_https_collector() {
    super::traces();
    let ca = tests::tls::TestCa::new("collector CA");
    let cert = ca.server_cert(&["collector.test"]);
    let dir = tempfile::tempdir().expect("temp dir");
    ca.write(dir.path(), "collector-ca.pem");
    for (protocol, alpn) in [("grpc", &b"h2"[..]), ("http", &b"http/1.1"[..])] {
        let collector = Collector::default();
        let plain = match protocol {
            "grpc" => serve_grpc(collector.clone()).await,
            _ => serve_http(collector.clone()).await,
        };
        let front = tests::tls::TlsFront::start(plain, &cert, None, &[alpn]).await;
        let section = format!(
            "tracing:\n  enabled: true\n  service_name: tls-{protocol}\n  exporter:\n    protocol: {protocol}\n    endpoint: \"https://{}\"\n    headers: {{ x-api-key: secret }}\n    tls: {{ ca: collector-ca.pem, server_name: collector.test }}\n",
            front.addr
        );
        let (trace_id, flushed) = export_two_spans(dir.path(), &section).await;
        assert_eq!(flushed, Ok(()), "{protocol}");
        let spans = collector
            .wait_for(&trace_id, |spans| spans.len() >= 2)
            .await;
        assert_eq!(
            spans[0].resource.get("service.name").map(String::as_str),
            Some(format!("tls-{protocol}").as_str())
        );
        let handshakes = front.handshakes();
        assert!(!handshakes.is_empty(), "{protocol}: no TLS handshake");
        assert!(
            handshakes
                .iter()
                .all(|h| h.sni.as_deref() == Some("collector.test")
                    && h.alpn.as_deref() == Some(alpn)),
            "{protocol}: {handshakes:?}"
        );
    }
}

/// A collector whose certificate no trusted CA signed gets no span: the
/// handshake fails (and the gateway goes on; exports are best effort).
#[tokio::test]
async fn a_collector_with_an_untrusted_certificate_gets_nothing() {
    super::traces();
    let trusted = tests::tls::TestCa::new("trusted CA");
    let other = tests::tls::TestCa::new("other CA");
    let dir = tempfile::tempdir().expect("temp dir");
    trusted.write(dir.path(), "trusted.pem");
    let collector = Collector::default();
    let plain = serve_grpc(collector.clone()).await;
    let front = tests::tls::TlsFront::start(
        plain,
        &other.server_cert(&["collector.test"]),
        None,
        &[b"h2"],
    )
    .await;
    let section = format!(
        "tracing:\n  enabled: true\n  exporter:\n    endpoint: \"https://{}\"\n    timeout: 2s\n    tls: {{ ca: trusted.pem, server_name: collector.test }}\n",
        front.addr
    );
    let (trace_id, flushed) = export_two_spans(dir.path(), &section).await;
    let error = flushed.expect_err("the export fails");
    assert!(error.contains("UnknownIssuer"), "{error}");
    assert!(collector.trace(&trace_id).is_empty());
    assert!(front.handshakes().is_empty(), "no handshake completed");
}

#[test]
fn tls_for_a_cleartext_endpoint_or_a_missing_ca_is_refused_with_positions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("routes.yaml");
    std::fs::write(
        &path,
        "routes: []\ntracing:\n  exporter:\n    endpoint: \"http://collector:4317\"\n    tls: { ca: missing.pem }\n",
    )
    .expect("write config");
    let errors = gateway::config::load_file(&path)
        .expect_err("refused")
        .to_string();
    assert!(
        errors.contains("routes.yaml:4:15: tracing.exporter.tls: applies to an https:// endpoint"),
        "{errors}"
    );
    assert!(
        errors.contains("routes.yaml:5:16: tracing.exporter.tls.ca"),
        "{errors}"
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
