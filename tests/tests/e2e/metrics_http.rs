//! `GET /metrics` moves by exactly what a test sends: requests by route,
//! method and status class, upstream attempts and their failures,
//! connections per worker, reloads; and is a JSON 404 when disabled.

use mock_backends::FaultKind;
use tests::gateway::{TestGateway, eventually};
use tests::metrics::scrape;

const ROUTES: &str = r#"
backends:
  users: { url: $USERS }
  dead:
    url: http://127.0.0.1:1
    ejection: { consecutive_failures: 1, cooldown: 60s }
    retry: { max_attempts: 1 }   # one request, one connect attempt
routes:
  - name: echo
    path: /echo/{*rest}
    backend: users
    rewrite: { template: "/debug/echo/{rest}" }
  - name: dead
    path: /dead
    backend: dead
"#;

const SERVER: &str = "http_server_request_duration_seconds";
const CLIENT: &str = "http_client_request_duration_seconds";

async fn get(gw: &TestGateway, path: &str) -> u16 {
    let response = gw.client.get(gw.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    response.bytes().await.unwrap();
    status
}

#[tokio::test]
async fn requests_are_counted_by_route_method_and_status_class() {
    let gw = TestGateway::start(ROUTES).await;
    let users = format!("{}/", gw.mocks.users.url());
    let echo_ok = [
        ("route", "echo"),
        ("http_request_method", "GET"),
        ("status_class", "2xx"),
    ];
    let upstream_ok = [
        ("backend", "users"),
        ("endpoint", users.as_str()),
        ("status_class", "2xx"),
    ];
    let unmatched = [("route", "_unmatched"), ("status_class", "4xx")];
    let before = scrape(&gw).await;
    for _ in 0..3 {
        assert_eq!(get(&gw, "/echo/a").await, 200);
    }
    assert_eq!(get(&gw, "/no/such/route").await, 404);
    // Every exchange is finished once its body has been sent.
    eventually("no request in flight", || async {
        scrape(&gw).await.value("http_server_active_requests", &[]) == 0.0
    })
    .await;
    let after = scrape(&gw).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        after.histogram_count(name, labels) - before.histogram_count(name, labels)
    };
    assert_eq!(moved(SERVER, &echo_ok), 3.0, "{}", after.text);
    assert_eq!(moved(CLIENT, &upstream_ok), 3.0, "{}", after.text);
    assert_eq!(moved(SERVER, &unmatched), 1.0, "{}", after.text);
    assert!(
        !after.text.contains("/no/such/route"),
        "raw paths are never labels"
    );
}

#[tokio::test]
async fn an_upstream_5xx_is_counted_on_both_sides() {
    let gw = TestGateway::start(ROUTES).await;
    gw.mocks
        .users
        .control
        .set_error_rate(1.0, FaultKind::Http(http::StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(get(&gw, "/echo/x").await, 503);
    let metrics = scrape(&gw).await;
    let server_5xx = [("route", "echo"), ("status_class", "5xx")];
    let client_5xx = [("backend", "users"), ("status_class", "5xx")];
    assert_eq!(metrics.histogram_count(SERVER, &server_5xx), 1.0);
    assert_eq!(metrics.histogram_count(CLIENT, &client_5xx), 1.0);
    assert_eq!(
        metrics.histogram_count(CLIENT, &[("backend", "users"), ("status_class", "2xx")]),
        0.0
    );
}

#[tokio::test]
async fn connect_errors_are_counted_per_endpoint_and_the_last_one_is_not_ejected() {
    let gw = TestGateway::start(ROUTES).await;
    let endpoint = [("backend", "dead"), ("endpoint", "http://127.0.0.1:1/")];
    assert_eq!(get(&gw, "/dead").await, 502);
    let metrics = scrape(&gw).await;
    assert_eq!(
        metrics.value("gateway_upstream_connect_errors_total", &endpoint),
        1.0,
        "{}",
        metrics.text
    );
    // The backend's only endpoint is never ejected (max_ejection_percent
    // keeps at least one serving; docs/resilience.md), and the metrics say
    // so rather than missing the series.
    assert_eq!(
        metrics.value("gateway_upstream_ejections_total", &endpoint),
        0.0
    );
    assert_eq!(
        metrics.value("gateway_upstream_endpoint_ejected", &endpoint),
        0.0
    );
    let connect_error = [("backend", "dead"), ("error_type", "connect_error")];
    assert_eq!(metrics.histogram_count(CLIENT, &connect_error), 1.0);
}

#[tokio::test]
async fn open_connections_are_reported_per_worker() {
    let gw = TestGateway::start(ROUTES).await;
    let idle = scrape(&gw).await;
    assert_eq!(idle.value("gateway_worker_open_connections", &[]), 0.0);
    let workers = idle.samples("gateway_worker_open_connections", &[]).count();
    assert_eq!(workers, gw.gateway.workers());
    // The client keeps its connection alive after the request.
    assert_eq!(get(&gw, "/echo/keep").await, 200);
    eventually("one open connection", || async {
        scrape(&gw)
            .await
            .value("gateway_worker_open_connections", &[])
            == 1.0
    })
    .await;
}

#[tokio::test]
async fn reloads_are_counted_by_result_with_the_config_version() {
    let gw = TestGateway::start_unwatched(ROUTES).await;
    let reloads = |result: &'static str| [("result", result)];
    let start = scrape(&gw).await;
    assert_eq!(start.value("gateway_config_version", &[]), 1.0);
    assert_eq!(
        start.value("gateway_config_last_reload_successful", &[]),
        1.0
    );
    gw.update_config(&ROUTES.replace("name: echo", "name: echo2"));
    gw.gateway.reload().await.unwrap();
    gw.update_config("routes: [ {");
    gw.gateway.reload().await.unwrap_err();
    gw.gateway.reload().await.unwrap_err();
    let metrics = scrape(&gw).await;
    let total = "gateway_config_reloads_total";
    assert_eq!(metrics.value(total, &reloads("applied")), 1.0);
    assert_eq!(metrics.value(total, &reloads("rejected")), 2.0);
    assert_eq!(metrics.value(total, &reloads("unchanged")), 0.0);
    assert_eq!(metrics.value("gateway_config_version", &[]), 2.0);
    assert_eq!(
        metrics.value("gateway_config_last_reload_successful", &[]),
        0.0
    );
}

#[tokio::test]
async fn disabled_metrics_are_a_json_404() {
    let gw = TestGateway::start(&format!("{ROUTES}metrics: {{ enabled: false }}\n")).await;
    assert_eq!(get(&gw, "/echo/a").await, 200);
    let response = gw
        .client
        .get(gw.admin_url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "METRICS_DISABLED");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("metrics.enabled")
    );
}
