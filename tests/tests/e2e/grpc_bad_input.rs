//! The gRPC bridge refuses bad input with 400 and a google.rpc.Status
//! body, and the backend is never called.

use serde_json::{Value, json};
use tests::gateway::{TestGateway, repo_path};
use tests::grpc::{create_order_json, grpc_call_count, json_call};

/// CreateOrder twice (unknown fields rejected, and ignored), plus the
/// kitchen test proto's Cook method (int64 and well-known types) routed to
/// the orders backend, which does not implement it.
fn config() -> String {
    let kitchen = repo_path("gateway/testdata/grpc").display().to_string();
    format!(
        r#"
backends:
  orders-grpc:
    url: $ORDERS_GRPC
    protocol: h2c
routes:
  - path: /strict/orders
    method: POST
    grpc: {{ backend: orders-grpc, method: orders.OrderService/CreateOrder }}
  - path: /lenient/orders
    method: POST
    grpc: {{ backend: orders-grpc, method: orders.OrderService/CreateOrder, unknown_fields: ignore }}
  - path: /small/orders
    method: POST
    max_body: 64
    grpc: {{ backend: orders-grpc, method: orders.OrderService/CreateOrder }}
  - path: /kitchen/{{id}}
    method: GET
    grpc: {{ backend: orders-grpc, method: kitchen.Kitchen/Cook }}
grpc:
  protos: [proto/orders.proto, {kitchen}/kitchen.proto]
  include: [proto, {kitchen}]
  max_depth: 8
"#
    )
}

async fn expect_400(
    gateway: &TestGateway,
    request: reqwest::RequestBuilder,
    reason: &str,
) -> Value {
    let (status, _, body) = json_call(request).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], 3, "INVALID_ARGUMENT: {body}");
    assert_eq!(body["details"][0]["reason"], reason, "{body}");
    assert_eq!(
        grpc_call_count(gateway),
        0,
        "the backend was called for {body}"
    );
    body
}

fn post(gateway: &TestGateway, path: &str, body: &str) -> reqwest::RequestBuilder {
    gateway
        .client
        .post(gateway.url(path))
        .header("content-type", "application/json")
        .body(body.to_owned())
}

#[tokio::test]
async fn malformed_json_wrong_types_and_overflow() {
    let gateway = TestGateway::start(&config()).await;
    let body = expect_400(
        &gateway,
        post(&gateway, "/strict/orders", r#"{"customerId": "#),
        "INVALID_JSON",
    )
    .await;
    assert!(
        body["message"].as_str().unwrap().contains("line 1"),
        "{body}"
    );
    expect_400(
        &gateway,
        post(&gateway, "/strict/orders", r#"{"customerId": 12}"#),
        "INVALID_FIELD_VALUE",
    )
    .await;
    expect_400(
        &gateway,
        post(
            &gateway,
            "/strict/orders",
            r#"{"items": [{"quantity": "two"}]}"#,
        ),
        "INVALID_FIELD_VALUE",
    )
    .await;
    expect_400(
        &gateway,
        post(
            &gateway,
            "/strict/orders",
            r#"{"items": [{"quantity": 2147483648}]}"#,
        ),
        "INVALID_FIELD_VALUE",
    )
    .await;
    expect_400(
        &gateway,
        post(&gateway, "/strict/orders", r#"[1, 2]"#),
        "INVALID_FIELD_VALUE",
    )
    .await;
    let overflow = gateway
        .client
        .get(gateway.url("/kitchen/k1?big=9223372036854775808"));
    expect_400(&gateway, overflow, "INVALID_FIELD_VALUE").await;
    let not_a_time = gateway.client.get(gateway.url("/kitchen/k1?at=yesterday"));
    expect_400(&gateway, not_a_time, "INVALID_FIELD_VALUE").await;
}

#[tokio::test]
async fn unknown_fields_are_rejected_or_ignored_as_configured() {
    let gateway = TestGateway::start(&config()).await;
    let mut body = create_order_json(1);
    body["coupon"] = json!("FREE");
    let strict = gateway
        .client
        .post(gateway.url("/strict/orders"))
        .json(&body);
    let error = expect_400(&gateway, strict, "UNKNOWN_FIELD").await;
    assert!(
        error["message"].as_str().unwrap().contains("coupon"),
        "{error}"
    );
    let unknown_param = gateway.client.get(gateway.url("/kitchen/k1?nope=1"));
    expect_400(&gateway, unknown_param, "INVALID_PARAMETER").await;
    let (status, _, created) = json_call(
        gateway
            .client
            .post(gateway.url("/lenient/orders"))
            .json(&body),
    )
    .await;
    assert_eq!(
        (status, created["status"].as_str()),
        (200, Some("PENDING")),
        "{created}"
    );
}

#[tokio::test]
async fn nesting_deeper_than_max_depth_is_refused_unparsed() {
    let gateway = TestGateway::start(&config()).await;
    let deep = format!(
        r#"{{"customerId": "x", "junk": {}{}}}"#,
        "[".repeat(20),
        "]".repeat(20)
    );
    expect_400(
        &gateway,
        post(&gateway, "/strict/orders", &deep),
        "JSON_TOO_DEEP",
    )
    .await;
}

#[tokio::test]
async fn a_body_over_the_route_limit_is_413() {
    let gateway = TestGateway::start(&config()).await;
    let (status, _, body) = json_call(
        gateway
            .client
            .post(gateway.url("/small/orders"))
            .json(&create_order_json(1)),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(grpc_call_count(&gateway), 0);
}

#[tokio::test]
async fn a_valid_call_to_an_unimplemented_method_is_501() {
    let gateway = TestGateway::start(&config()).await;
    let (status, _, body) = json_call(
        gateway
            .client
            .get(gateway.url("/kitchen/k1?big=12&at=2024-01-01T00:00:00Z")),
    )
    .await;
    assert_eq!((status, body["code"].as_i64()), (501, Some(12)), "{body}");
}
