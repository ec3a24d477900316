//! The gateway's own errors: JSON with a stable code and the request id.

use gateway::context::X_REQUEST_ID;
use std::time::Duration;

use mock_backends::ServiceKind;
use serde_json::Value;
use tests::gateway::TestGateway;

const ROUTES: &str = r#"
backends:
  users: { url: $USERS, connect_timeout: 1s }
  orders: { url: $ORDERS }
routes:
  - path: /v1/users/{id}
    methods: [GET, DELETE]
    backend: users
  - path: /upload
    method: POST
    backend: users
    rewrite: { template: /debug/upload }
    max_body: 1KiB
  - path: /slow/{*rest}
    backend: orders
    rewrite: { strip_prefix: /slow }
    timeout: 100ms
"#;

async fn error_of(response: reqwest::Response) -> (u16, Value, Option<String>) {
    let status = response.status().as_u16();
    let request_id = response
        .headers()
        .get(X_REQUEST_ID)
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = response.json().await.unwrap();
    (status, body, request_id)
}

#[tokio::test]
async fn unknown_paths_get_no_route_with_the_request_id() {
    let gw = TestGateway::start(ROUTES).await;
    let response = gw
        .client
        .get(gw.url("/nowhere"))
        .header(X_REQUEST_ID, "abc-123")
        .send()
        .await
        .unwrap();
    let (status, body, request_id) = error_of(response).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "NO_ROUTE");
    assert_eq!(body["error"]["request_id"], "abc-123");
    assert_eq!(request_id.as_deref(), Some("abc-123"));
}

#[tokio::test]
async fn wrong_methods_get_405_with_allow() {
    let gw = TestGateway::start(ROUTES).await;
    let response = gw.client.put(gw.url("/v1/users/1")).send().await.unwrap();
    let allow = response.headers()["allow"].to_str().unwrap().to_owned();
    let (status, body, _) = error_of(response).await;
    assert_eq!(status, 405);
    assert_eq!(body["error"]["code"], "METHOD_NOT_ALLOWED");
    assert_eq!(allow, "GET, DELETE, HEAD");
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_declared_or_streamed() {
    let gw = TestGateway::start(ROUTES).await;
    let declared = gw
        .client
        .post(gw.url("/upload"))
        .body(vec![b'x'; 2048])
        .send()
        .await
        .unwrap();
    let (status, body, _) = error_of(declared).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("BODY_TOO_LARGE"))
    );
    assert_eq!(
        gw.mocks.users.control.request_count(),
        0,
        "a declared oversize body never reaches the backend"
    );

    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..4).map(|_| Ok(vec![b'y'; 512])).collect();
    let streamed = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let response = gw
        .client
        .post(gw.url("/upload"))
        .body(streamed)
        .send()
        .await
        .unwrap();
    let (status, body, _) = error_of(response).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("BODY_TOO_LARGE"))
    );

    let small = gw
        .client
        .post(gw.url("/upload"))
        .body(vec![b'z'; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), 200);
}

#[tokio::test]
async fn a_refused_connection_is_502_upstream_unavailable() {
    let gw = TestGateway::start(ROUTES).await;
    gw.mocks
        .service(ServiceKind::Users)
        .control
        .set_down(true)
        .await;
    let response = gw.client.get(gw.url("/v1/users/1")).send().await.unwrap();
    let (status, body, _) = error_of(response).await;
    assert_eq!(status, 502);
    assert_eq!(body["error"]["code"], "UPSTREAM_UNAVAILABLE");
    // Generic and stable: no backend name, address or connection error.
    assert_eq!(
        body["error"]["message"], "the upstream service is unavailable",
        "{body}"
    );
}

#[tokio::test]
async fn a_slow_backend_is_504_and_the_call_is_cancelled() {
    let gw = TestGateway::start(ROUTES).await;
    let orders = &gw.mocks.orders.control;
    orders.set_latency(Duration::from_secs(5), Duration::ZERO);
    let response = gw
        .client
        .get(gw.url("/slow/v1/orders"))
        .send()
        .await
        .unwrap();
    let (status, body, _) = error_of(response).await;
    assert_eq!(status, 504);
    assert_eq!(body["error"]["code"], "UPSTREAM_TIMEOUT");
    tests::gateway::eventually("the backend to see the call end", || async {
        orders.requests().iter().any(|r| {
            r.finished_at.is_some() && matches!(r.outcome, mock_backends::Outcome::Cancelled)
        })
    })
    .await;
}

#[tokio::test]
async fn unsafe_paths_are_refused_before_routing() {
    let gw = TestGateway::start(ROUTES).await;
    // Raw requests: HTTP clients normalise dot segments before sending.
    for path in [
        "/v1/users/../admin",
        "/v1/users/%2e%2e/admin",
        "/v1/users/a%2fb",
        "/v1/users/a%5Cb",
    ] {
        let response = raw_get(gw.gateway.addr, path).await;
        assert!(response.starts_with("HTTP/1.1 400"), "{path}: {response}");
        assert!(
            response.contains(r#""code":"BAD_PATH""#),
            "{path}: {response}"
        );
    }
    assert_eq!(gw.mocks.users.control.request_count(), 0);
}

#[tokio::test]
async fn healthz_answers_on_the_main_listener() {
    let gw = TestGateway::start(ROUTES).await;
    let response = gw.client.get(gw.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    for path in ["/healthz", "/readyz", "/config"] {
        assert_eq!(
            gw.client
                .get(gw.admin_url(path))
                .send()
                .await
                .unwrap()
                .status(),
            200,
            "{path}"
        );
    }
}

async fn raw_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn a_client_that_stalls_in_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = TestGateway::start(&format!(
        "server: {{ header_read_timeout: 200ms }}\n{ROUTES}"
    ))
    .await;
    let mut stream = tokio::net::TcpStream::connect(gw.gateway.addr)
        .await
        .unwrap();
    stream
        .write_all(b"GET /v1/users/1 HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let mut buffer = Vec::new();
    let read = tests::mocks::within(
        "the gateway to close the stalled connection",
        stream.read_to_end(&mut buffer),
    )
    .await;
    assert!(
        read.is_err()
            || buffer.is_empty()
            || String::from_utf8_lossy(&buffer).starts_with("HTTP/1.1 408"),
        "{buffer:?}"
    );
}
