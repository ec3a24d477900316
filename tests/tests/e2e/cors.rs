//! CORS through the real gateway and mocks: preflights answered by the
//! gateway (the mock's request log proves none was forwarded), actual
//! requests, credentials, a refused origin, refusals from the auth layer
//! that still carry the CORS headers, and gRPC-Web's exposed headers.

use reqwest::Method;
use sha2::{Digest, Sha256};
use tests::gateway::TestGateway;

fn routes() -> String {
    format!(
        r#"
backends:
  users: {{ url: $USERS }}
  orders-grpc: {{ url: $ORDERS_GRPC, protocol: h2c }}
auth:
  api_keys:
    partners:
      keys: [{{ consumer: app, sha256: {hash} }}]
cors:
  allow_origins: ["https://*.example.com"]
routes:
  - path: /echo/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
    cors:
      allow_origins: [https://app.test, "https://*.example.com"]
      allow_methods: [GET, PUT]
      allow_headers: [content-type, x-api-key]
      expose_headers: [x-request-id]
      allow_credentials: true
      max_age: 10m
    auth: {{ api_keys: partners }}
  - path: /public/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
  - path: /orders.OrderService/{{method}}
    grpc: {{ backend: orders-grpc, passthrough: true }}
"#,
        hash = hex::encode(Sha256::digest(b"app-key"))
    )
}

fn forwarded(gw: &TestGateway) -> usize {
    gw.mocks.users.control.request_count()
}

#[tokio::test]
async fn a_preflight_is_answered_by_the_gateway_and_never_forwarded() {
    let gw = TestGateway::start(&routes()).await;
    let response = gw
        .client
        .request(Method::OPTIONS, gw.url("/echo/x"))
        .header("origin", "https://app.test")
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "x-api-key, content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], "https://app.test");
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert_eq!(headers["access-control-allow-methods"], "GET,PUT");
    assert_eq!(
        headers["access-control-allow-headers"],
        "content-type,x-api-key"
    );
    assert_eq!(headers["access-control-max-age"], "600");
    assert_eq!(forwarded(&gw), 0, "the preflight reached the backend");
}

#[tokio::test]
async fn actual_requests_get_the_cors_headers_and_a_refused_origin_gets_none() {
    let gw = TestGateway::start(&routes()).await;
    let allowed = gw
        .client
        .get(gw.url("/echo/x"))
        .header("origin", "https://shop.example.com")
        .header("x-api-key", "app-key")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://shop.example.com"
    );
    assert_eq!(
        allowed.headers()["access-control-expose-headers"],
        "x-request-id"
    );
    let refused = gw
        .client
        .get(gw.url("/echo/x"))
        .header("origin", "https://evil.test")
        .header("x-api-key", "app-key")
        .send()
        .await
        .unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let preflight = gw
        .client
        .request(Method::OPTIONS, gw.url("/echo/x"))
        .header("origin", "https://evil.test")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    // The global policy applies where a route sets none.
    let global = gw
        .client
        .get(gw.url("/public/x"))
        .header("origin", "https://a.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        global.headers()["access-control-allow-origin"],
        "https://a.example.com"
    );
    // A plain OPTIONS (no preflight) is the handler's, as before.
    let before = forwarded(&gw);
    let plain = gw
        .client
        .request(Method::OPTIONS, gw.url("/public/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
    assert_eq!(forwarded(&gw), before + 1);
}

#[tokio::test]
async fn a_refusal_from_the_auth_layer_still_carries_the_cors_headers() {
    let gw = TestGateway::start(&routes()).await;
    let response = gw
        .client
        .get(gw.url("/echo/x"))
        .header("origin", "https://app.test")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.test"
    );
    assert_eq!(
        response.headers()["access-control-allow-credentials"],
        "true"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "AUTH_REQUIRED");
    assert_eq!(forwarded(&gw), 0);
}

#[tokio::test]
async fn grpc_web_routes_expose_the_grpc_status_headers() {
    let gw = TestGateway::start(&routes()).await;
    let preflight = gw
        .client
        .request(Method::OPTIONS, gw.url("/orders.OrderService/GetOrder"))
        .header("origin", "https://web.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,x-grpc-web")
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://web.example.com"
    );
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(
        allowed.contains("x-grpc-web") && allowed.contains("content-type"),
        "{allowed}"
    );
    assert_eq!(gw.mocks.orders_grpc.control.request_count(), 0);
    let call = gw
        .client
        .post(gw.url("/orders.OrderService/GetOrder"))
        .header("origin", "https://web.example.com")
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(vec![0u8, 0, 0, 0, 0])
        .send()
        .await
        .unwrap();
    let exposed = call.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        assert!(exposed.contains(name), "{exposed}");
    }
}
