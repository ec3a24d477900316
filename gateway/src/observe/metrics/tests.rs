//! The sink's series and the always-present metrics, encoded.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use http::{Method, Request, StatusCode};

use super::{Metrics, StreamKind};
use crate::observe::{
    AttemptOutcome, EndpointName, Exchange, ExchangeEnd, ExchangeSink, Finished, Observers,
    UpstreamRecord,
};

fn encoded(metrics: &Metrics) -> String {
    let mut text = String::new();
    metrics.encode(&mut text).expect("encode");
    text
}

fn exchange(method: &str) -> Exchange {
    let request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("method"))
        .uri("/some/raw/path/123")
        .body(())
        .expect("request");
    Exchange::begin(&request, Arc::new(Observers::default()))
}

fn finished(status: u16) -> Finished {
    Finished {
        status: StatusCode::from_u16(status).expect("status"),
        error_code: None,
        bytes_out: 0,
        end: ExchangeEnd::Completed,
        duration: Duration::ZERO,
    }
}

#[test]
fn an_unrouted_request_is_labelled_unmatched_never_by_its_path() {
    let metrics = Metrics::new();
    let exchange = exchange("PURGE");
    metrics.on_start(&exchange);
    assert!(encoded(&metrics).contains("http_server_active_requests 1\n"));
    metrics.on_finish(&exchange, &finished(404));
    let text = encoded(&metrics);
    assert!(text.contains("http_server_active_requests 0\n"), "{text}");
    assert!(
        text.contains(
            "http_server_request_duration_seconds_count{route=\"_unmatched\",http_request_method=\"_OTHER\",status_class=\"4xx\"} 1\n"
        ),
        "{text}"
    );
    assert!(!text.contains("/some/raw/path"), "{text}");
}

#[test]
fn a_named_route_gets_its_own_series() {
    let config = crate::config::load_str(
        "backends:\n  b:\n    url: http://127.0.0.1:1\nroutes:\n  - name: orders\n    path: /orders\n    backend: b\n",
        "test.yaml",
    )
    .expect("config");
    let metrics = Metrics::new();
    for _ in 0..2 {
        let exchange = exchange("GET");
        exchange.set_route(Arc::clone(&config.routes[0]));
        metrics.on_start(&exchange);
        metrics.on_finish(&exchange, &finished(200));
    }
    let text = encoded(&metrics);
    assert!(
        text.contains("http_server_request_duration_seconds_count{route=\"orders\",http_request_method=\"GET\",status_class=\"2xx\"} 2\n"),
        "{text}"
    );
}

#[test]
fn upstream_attempts_are_labelled_by_status_class_or_error() {
    let metrics = Metrics::new();
    let exchange = exchange("GET");
    let record = |status| UpstreamRecord {
        name: EndpointName::new(&Arc::from("orders"), &Arc::from("http://127.0.0.1:1/")),
        status,
        duration: Duration::from_millis(20),
    };
    let ok = StatusCode::OK;
    metrics.on_upstream_attempt(&exchange, &record(Some(ok)), AttemptOutcome::Response(ok));
    metrics.on_upstream_attempt(&exchange, &record(None), AttemptOutcome::ConnectFailed);
    let text = encoded(&metrics);
    let labels = "backend=\"orders\",endpoint=\"http://127.0.0.1:1/\"";
    assert!(
        text.contains(&format!("http_client_request_duration_seconds_count{{{labels},status_class=\"2xx\",error_type=\"\"}} 1\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("http_client_request_duration_seconds_count{{{labels},status_class=\"\",error_type=\"connect_error\"}} 1\n")),
        "{text}"
    );
}

/// An endpoint keeps its series after the first attempt; another
/// gateway's metrics reporting the same name still count in their own.
#[test]
fn an_endpoints_kept_series_belongs_to_the_metrics_that_resolved_it() {
    let (first, second) = (Metrics::new(), Metrics::new());
    let exchange = exchange("GET");
    let name = EndpointName::new(&Arc::from("orders"), &Arc::from("http://127.0.0.1:1/"));
    let ok = StatusCode::OK;
    let record = UpstreamRecord {
        name,
        status: Some(ok),
        duration: Duration::from_millis(3),
    };
    for _ in 0..3 {
        first.on_upstream_attempt(&exchange, &record, AttemptOutcome::Response(ok));
    }
    second.on_upstream_attempt(&exchange, &record, AttemptOutcome::Response(ok));
    let series = "http_client_request_duration_seconds_count{backend=\"orders\",endpoint=\"http://127.0.0.1:1/\",status_class=\"2xx\",error_type=\"\"}";
    assert!(
        encoded(&first).contains(&format!("{series} 3\n")),
        "{}",
        encoded(&first)
    );
    assert!(
        encoded(&second).contains(&format!("{series} 1\n")),
        "{}",
        encoded(&second)
    );
}

#[test]
fn streams_build_info_and_the_access_log_counter_are_always_there() {
    let metrics = Metrics::new();
    let text = encoded(&metrics);
    for kind in ["sse", "ndjson", "websocket"] {
        assert!(
            text.contains(&format!("gateway_open_streams{{kind=\"{kind}\"}} 0\n")),
            "{text}"
        );
    }
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        text.contains(&format!("gateway_build_info{{version=\"{version}\"}} 1\n")),
        "{text}"
    );
    assert!(text.contains("gateway_access_log_dropped_records_total 0\n"));
    metrics.set_access_log_dropped(Arc::new(AtomicU64::new(7)));
    let _open = metrics.open_stream(StreamKind::WebSocket);
    let text = encoded(&metrics);
    assert!(text.contains("gateway_access_log_dropped_records_total 7\n"));
    assert!(text.contains("gateway_open_streams{kind=\"websocket\"} 1\n"));
}

#[test]
fn operation_names_past_the_cap_are_other() {
    let metrics = Metrics::new();
    for index in 0..=super::MAX_OPERATION_NAMES {
        metrics.graphql_operation("query", Some(&format!("Op{index}")));
    }
    metrics.graphql_operation("query", None);
    let text = encoded(&metrics);
    assert!(
        text.contains("graphql_operation_name=\"Op0\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("graphql_operation_name=\"_other\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("graphql_operation_name=\"_anonymous\"} 1\n"),
        "{text}"
    );
}
