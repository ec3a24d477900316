//! The access log, through the real gateway and mocks: one record per
//! request with the documented fields, for a proxied request, a 404, a
//! 504 and a client that leaves mid-stream; the text layout; and the last
//! records written when the gateway stops.

use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use gateway::context::X_REQUEST_ID;
use mock_backends::ServiceKind;
use mock_backends::seed::FIRST_ORDER_ID;
use serde_json::Value;
use tests::gateway::{TestGateway, base_url, eventually};

const ROUTES: &str = r#"
log:
  access_log: { enabled: true, format: json, path: access.log }
backends:
  orders: { url: $ORDERS, request_timeout: 60s }
  users: { url: $USERS }
routes:
  - name: order
    path: /v1/orders/{id}
    method: GET
    backend: orders
  - name: echo
    path: /echo/{*rest}
    backend: users
    rewrite: { template: "/debug/echo/{rest}" }
  - name: slow
    path: /slow/{*rest}
    backend: orders
    rewrite: { strip_prefix: /slow }
    timeout: 100ms
  - name: download
    path: /debug/download
    backend: orders
"#;

/// Large enough that socket buffers cannot hold it: a client that stops
/// reading leaves most of it unsent.
const DOWNLOAD_BYTES: u64 = 64 * 1024 * 1024;

fn log_path(gw: &TestGateway) -> PathBuf {
    gw.config_path().with_file_name("access.log")
}

/// Every complete record written so far.
fn records_in(path: &PathBuf) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.split_inclusive('\n')
        .filter(|line| line.ends_with('\n'))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn records_of(path: &PathBuf, request_id: &str) -> Vec<Value> {
    records_in(path)
        .into_iter()
        .filter(|record| record["request_id"] == request_id)
        .collect()
}

/// Waits for the record of `request_id`, and checks it is the only one.
async fn record_of(gw: &TestGateway, request_id: &str) -> Value {
    let path = log_path(gw);
    eventually(&format!("the record of {request_id}"), || async {
        !records_of(&path, request_id).is_empty()
    })
    .await;
    let mut records = records_of(&path, request_id);
    assert_eq!(records.len(), 1, "one record per request: {records:?}");
    records.remove(0)
}

/// The orders mock as the pool names its endpoint (its base URL).
fn orders_endpoint(gw: &TestGateway) -> String {
    format!("{}/", base_url(&gw.mocks, ServiceKind::OrdersRest))
}

async fn get(gw: &TestGateway, path: &str, request_id: &str) -> reqwest::Response {
    gw.client
        .get(gw.url(path))
        .header(X_REQUEST_ID, request_id)
        .header("user-agent", "access-log-test/1.0")
        .send()
        .await
        .unwrap()
}

const FIELDS: [&str; 20] = [
    "time",
    "request_id",
    "trace_id",
    "client_address",
    "method",
    "path",
    "route",
    "consumer",
    "status",
    "error_code",
    "upstream_backend",
    "upstream_endpoint",
    "upstream_status",
    "upstream_attempts",
    "bytes_in",
    "bytes_out",
    "duration_ms",
    "upstream_duration_ms",
    "user_agent",
    "end",
];

fn assert_every_field(record: &Value) {
    let object = record.as_object().unwrap();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = FIELDS.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected, "{record}");
    let time = record["time"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(time).is_ok() && time.ends_with('Z'),
        "{time}"
    );
}

#[tokio::test]
async fn a_proxied_request_has_one_record_with_every_field() {
    let gw = TestGateway::start(ROUTES).await;
    let path = format!("/v1/orders/{FIRST_ORDER_ID}");
    let response = get(&gw, &path, "al-proxied").await;
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.unwrap();
    let record = record_of(&gw, "al-proxied").await;
    assert_every_field(&record);
    assert_eq!(record["client_address"], "127.0.0.1");
    assert_eq!(record["method"], "GET");
    assert_eq!(record["path"], path);
    assert_eq!(record["route"], "order");
    assert_eq!(record["status"], 200);
    assert_eq!(record["error_code"], Value::Null);
    assert_eq!(record["upstream_backend"], "orders");
    assert_eq!(record["upstream_endpoint"], orders_endpoint(&gw));
    assert_eq!(record["upstream_status"], 200);
    assert_eq!(record["upstream_attempts"], 1);
    assert_eq!(record["bytes_in"], 0);
    assert_eq!(record["bytes_out"], body.len() as u64);
    assert_eq!(record["user_agent"], "access-log-test/1.0");
    assert_eq!(record["end"], "completed");
    assert_eq!(record["trace_id"], Value::Null);
    let total = record["duration_ms"].as_f64().unwrap();
    let upstream = record["upstream_duration_ms"].as_f64().unwrap();
    assert!(upstream > 0.0 && upstream <= total, "{record}");
}

#[tokio::test]
async fn request_body_bytes_are_counted() {
    let gw = TestGateway::start(ROUTES).await;
    let response = gw
        .client
        .post(gw.url("/echo/anything"))
        .header(X_REQUEST_ID, "al-upload")
        .body("seventeen bytes!!")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.unwrap();
    let record = record_of(&gw, "al-upload").await;
    assert_eq!(record["method"], "POST");
    assert_eq!(record["route"], "echo");
    assert_eq!(record["bytes_in"], 17);
    assert_eq!(record["bytes_out"], body.len() as u64);
    assert_eq!(record["user_agent"], Value::Null);
}

#[tokio::test]
async fn a_404_is_logged_without_route_or_upstream() {
    let gw = TestGateway::start(ROUTES).await;
    let response = get(&gw, "/nowhere?secret=1", "al-404").await;
    assert_eq!(response.status(), 404);
    let body = response.bytes().await.unwrap();
    let record = record_of(&gw, "al-404").await;
    assert_every_field(&record);
    assert_eq!(record["status"], 404);
    assert_eq!(record["error_code"], "NO_ROUTE");
    // The query is never logged: it may carry secrets.
    assert_eq!(record["path"], "/nowhere");
    assert_eq!(record["route"], Value::Null);
    for absent in ["upstream_backend", "upstream_endpoint", "upstream_status"] {
        assert_eq!(record[absent], Value::Null, "{absent}");
    }
    assert_eq!(record["upstream_attempts"], 0);
    assert_eq!(record["upstream_duration_ms"], Value::Null);
    assert_eq!(record["bytes_out"], body.len() as u64);
    assert_eq!(record["end"], "completed");
}

#[tokio::test]
async fn a_504_names_the_backend_and_has_no_upstream_status() {
    let gw = TestGateway::start(ROUTES).await;
    gw.mocks
        .orders
        .control
        .set_latency(Duration::from_secs(5), Duration::ZERO);
    let response = get(&gw, "/slow/v1/orders", "al-504").await;
    assert_eq!(response.status(), 504);
    let record = record_of(&gw, "al-504").await;
    assert_every_field(&record);
    assert_eq!(record["status"], 504);
    assert_eq!(record["error_code"], "UPSTREAM_TIMEOUT");
    assert_eq!(record["route"], "slow");
    assert_eq!(record["upstream_backend"], "orders");
    assert_eq!(record["upstream_status"], Value::Null);
    assert_eq!(record["upstream_attempts"], 1);
    assert_eq!(record["end"], "completed");
    // The attempt was abandoned at the route's 100ms timeout.
    let upstream = record["upstream_duration_ms"].as_f64().unwrap();
    assert!(upstream >= 100.0, "{record}");
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_is_logged_as_aborted_with_the_bytes_sent() {
    let gw = TestGateway::start(ROUTES).await;
    let response = get(
        &gw,
        &format!("/debug/download?bytes={DOWNLOAD_BYTES}&seed=1"),
        "al-aborted",
    )
    .await;
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    drop(body);
    let record = record_of(&gw, "al-aborted").await;
    assert_every_field(&record);
    assert_eq!(record["status"], 200);
    assert_eq!(record["upstream_status"], 200);
    assert_eq!(record["end"], "aborted");
    let sent = record["bytes_out"].as_u64().unwrap();
    assert!(
        sent >= first.len() as u64 && sent < DOWNLOAD_BYTES,
        "{record}"
    );
}

#[tokio::test]
async fn text_records_have_the_documented_layout() {
    let gw = TestGateway::start(&ROUTES.replace("format: json", "format: text")).await;
    let path = format!("/v1/orders/{FIRST_ORDER_ID}");
    let response = get(&gw, &path, "al-text").await;
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.unwrap();
    let log = log_path(&gw);
    let line = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .find(|line| line.contains(" al-text "))
            .map(str::to_owned)
    };
    eventually("the text record", || async { line().is_some() }).await;
    let line = line().unwrap();
    // TIME CLIENT REQUEST_ID TRACE_ID "METHOD PATH" STATUS ERROR_CODE
    // BYTES_IN BYTES_OUT DURATION_MS "ROUTE" UPSTREAM_BACKEND
    // UPSTREAM_ENDPOINT UPSTREAM_STATUS UPSTREAM_ATTEMPTS
    // UPSTREAM_DURATION_MS END "USER_AGENT" CONSUMER
    let fields: Vec<&str> = line.split(' ').collect();
    assert_eq!(fields.len(), 20, "{line}");
    assert!(chrono::DateTime::parse_from_rfc3339(fields[0]).is_ok());
    assert_eq!(fields[1], "127.0.0.1");
    assert_eq!(fields[2], "al-text");
    assert_eq!(fields[3], "-");
    assert_eq!(
        format!("{} {}", fields[4], fields[5]),
        format!("\"GET {path}\"")
    );
    assert_eq!(fields[6], "200");
    assert_eq!(fields[7], "-");
    assert_eq!(fields[8], "0");
    assert_eq!(fields[9], body.len().to_string());
    assert!(fields[10].parse::<f64>().is_ok(), "{line}");
    assert_eq!(fields[11], "\"order\"");
    assert_eq!(fields[12], "orders");
    assert_eq!(fields[13], orders_endpoint(&gw));
    assert_eq!(fields[14], "200");
    assert_eq!(fields[15], "1");
    assert!(fields[16].parse::<f64>().is_ok(), "{line}");
    assert_eq!(fields[17], "completed");
    assert_eq!(fields[18], "\"access-log-test/1.0\"");
    assert_eq!(fields[19], "-", "no consumer on a route without auth");
}

#[tokio::test]
async fn the_last_records_are_written_when_the_gateway_stops() {
    let gw = TestGateway::start(ROUTES).await;
    let log = log_path(&gw);
    for index in 0..20 {
        let response = get(&gw, "/nowhere", &format!("al-stop-{index}")).await;
        assert_eq!(response.status(), 404);
        response.bytes().await.unwrap();
    }
    let gateway = gw.gateway;
    assert!(gateway.shutdown().await);
    // No waiting: the drain wrote and flushed them.
    let records = records_in(&log);
    for index in 0..20 {
        let id = format!("al-stop-{index}");
        let count = records.iter().filter(|r| r["request_id"] == id).count();
        assert_eq!(count, 1, "{id}");
    }
}

#[tokio::test]
async fn a_client_that_leaves_before_the_response_head_is_499_aborted() {
    let gw = TestGateway::start(ROUTES).await;
    let orders = &gw.mocks.orders.control;
    orders.set_latency(Duration::from_secs(5), Duration::ZERO);
    let request = gw
        .client
        .get(gw.url("/v1/orders/anything"))
        .header(X_REQUEST_ID, "al-499")
        .timeout(Duration::from_millis(300))
        .send();
    // The client gives up while the backend is still answering.
    let waiting = orders.wait_for_requests(|seen| !seen.is_empty());
    let (sent, _) = tokio::join!(request, waiting);
    assert!(sent.unwrap_err().is_timeout());
    let record = record_of(&gw, "al-499").await;
    assert_every_field(&record);
    assert_eq!(record["status"], 499);
    assert_eq!(record["end"], "aborted");
    assert_eq!(record["route"], "order");
    assert_eq!(record["bytes_out"], 0);
    assert_eq!(record["upstream_backend"], "orders");
    assert_eq!(record["upstream_status"], Value::Null);
    assert_eq!(record["upstream_attempts"], 1);
}

/// A head the connection refuses never reaches a route, yet it is a
/// request the gateway answered: one record each (no method, path or
/// route; the answer's status, code and request id) and a count, for a
/// head the parser refuses and for one not received in time. A connection
/// that sends nothing and is closed idle is not a request.
#[tokio::test]
async fn refused_heads_are_logged_and_counted() {
    let gw = TestGateway::start(&ROUTES.replace(
        "routes:\n",
        "server:\n  header_read_timeout: 300ms\nroutes:\n",
    ))
    .await;
    let addr = gw.gateway.addr;
    let malformed = tests::raw_http::send(
        addr,
        b"GET /v1 HTTP/1.1\r\nHost: gw\r\nBad Header: 1\r\n\r\n",
    )
    .await;
    assert_eq!(malformed.status, 400);
    let large = format!(
        "GET /v1 HTTP/1.1\r\nHost: gw\r\nX-Big: {}\r\n\r\n",
        "b".repeat(200_000)
    );
    let large = tests::raw_http::send(addr, large.as_bytes()).await;
    assert_eq!(large.status, 431);
    // A head started and never finished: 408 at the header-read timeout.
    let late = tests::raw_http::send(addr, b"GET /v1/orders HTTP/1.1\r\nHost: gw\r\n").await;
    assert_eq!(late.status, 408);
    // Nothing sent at all: closed at the same timeout, not a request.
    let silent = tokio::net::TcpStream::connect(addr).await.unwrap();

    for (answer, code) in [
        (&malformed, "MALFORMED_REQUEST"),
        (&large, "HEADERS_TOO_LARGE"),
        (&late, "REQUEST_TIMEOUT"),
    ] {
        let id = answer.header("x-request-id").expect("a request id");
        let record = record_of(&gw, id).await;
        assert_every_field(&record);
        assert_eq!(record["status"], u64::from(answer.status), "{record}");
        assert_eq!(record["error_code"], code, "{record}");
        assert_eq!(record["client_address"], "127.0.0.1");
        for absent in ["method", "path", "route", "upstream_backend", "user_agent"] {
            assert!(record[absent].is_null(), "{absent}: {record}");
        }
        assert_eq!(record["bytes_out"], answer.body.len() as u64, "{record}");
        assert_eq!(record["end"], "completed");
    }
    let timed_out = record_of(&gw, late.header("x-request-id").unwrap()).await;
    assert!(
        timed_out["duration_ms"].as_f64().unwrap() >= 300.0,
        "the head was awaited for the timeout: {timed_out}"
    );

    // The silent connection is closed by the gateway, and logged nothing.
    let mut silent = silent;
    let mut rest = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut silent, &mut rest)
        .await
        .unwrap();
    let metrics = tests::metrics::scrape(&gw).await;
    for code in ["MALFORMED_REQUEST", "HEADERS_TOO_LARGE", "REQUEST_TIMEOUT"] {
        assert_eq!(
            metrics.value("gateway_refused_requests_total", &[("code", code)]),
            1.0,
            "{code}"
        );
    }
    assert_eq!(
        metrics.histogram_count(
            "http_server_request_duration_seconds",
            &[
                ("route", "_unmatched"),
                ("http_request_method", "_OTHER"),
                ("status_class", "4xx")
            ],
        ),
        3.0,
        "the three refusals, not the silent connection"
    );
    assert_eq!(
        records_in(&log_path(&gw)).len(),
        3,
        "only the refusals are logged"
    );
}

/// `POST /reopen_logs` on the admin listener: its status and body.
async fn reopen_logs(gw: &TestGateway) -> (u16, Value) {
    let answer = gw
        .client
        .post(gw.admin_url("/reopen_logs"))
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

/// logrotate's way: rename the file, then ask the gateway to reopen it
/// (`POST /reopen_logs` here; SIGUSR1 in the binary's signal tests). The
/// record of a request before the rotation is in the renamed file, the
/// next one in a new file at the configured path.
#[tokio::test]
async fn a_rotated_log_is_reopened_at_its_path() {
    let gw = TestGateway::start(ROUTES).await;
    let path = log_path(&gw);
    let order = format!("/v1/orders/{FIRST_ORDER_ID}");
    assert_eq!(get(&gw, &order, "before-rotation").await.status(), 200);
    record_of(&gw, "before-rotation").await;
    let rotated = path.with_file_name("access.log.1");
    std::fs::rename(&path, &rotated).unwrap();

    let (status, body) = reopen_logs(&gw).await;
    assert_eq!(status, 200);
    assert_eq!(body, serde_json::json!({"reopened": true}));

    assert_eq!(get(&gw, &order, "after-rotation").await.status(), 200);
    let record = record_of(&gw, "after-rotation").await;
    assert_eq!(record["status"], 200);
    assert!(records_of(&path, "before-rotation").is_empty());
    assert_eq!(records_of(&rotated, "before-rotation").len(), 1);
    assert!(records_of(&rotated, "after-rotation").is_empty());
}

/// Without a file there is nothing to reopen, and the answer says so.
#[tokio::test]
async fn reopening_without_a_file_access_log_says_so() {
    let gw = TestGateway::start(&ROUTES.replace("enabled: true", "enabled: false")).await;
    let (status, body) = reopen_logs(&gw).await;
    assert_eq!(status, 200);
    assert_eq!(body["reopened"], false, "{body}");
}
