//! The gRPC bridge, unary calls: JSON mapping both ways, metadata, the
//! deadline, and the gRPC → HTTP status table against the real mock.

use gateway::context::X_REQUEST_ID;
use mock_backends::{FaultKind, seed};
use serde_json::json;
use tests::grpc::{bridge, create_order_json, grpc_calls, json_call};
use tonic::Code;

#[tokio::test]
async fn get_order_is_transcoded_to_proto3_json() {
    let gateway = bridge().await;
    let url = gateway.url(&format!("/grpc/v1/orders/{}", seed::FIRST_ORDER_ID));
    let (status, headers, body) = json_call(gateway.client.get(url)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(body["id"], seed::FIRST_ORDER_ID.to_string());
    assert_eq!(
        body["customerId"],
        seed::FIRST_CUSTOMER_ID.to_string(),
        "lowerCamelCase names"
    );
    assert_eq!(body["status"], "SHIPPED", "enums by name");
    assert_eq!(body["total"], 59.98);
    assert!(
        body["createdAt"].as_str().is_some_and(|t| t.ends_with('Z')),
        "Timestamp as RFC 3339: {body}"
    );
}

#[tokio::test]
async fn create_order_accepts_both_field_name_forms() {
    let gateway = bridge().await;
    let snake = json!({
        "customer_id": seed::FIRST_CUSTOMER_ID.to_string(),
        "items": [{"product_id": seed::SECOND_PRODUCT_ID.to_string(), "quantity": 2, "unit_price": 49.99}],
    });
    for body in [create_order_json(2), snake] {
        let (status, _, created) = json_call(
            gateway
                .client
                .post(gateway.url("/grpc/v1/orders"))
                .json(&body),
        )
        .await;
        assert_eq!(status, 200, "{created}");
        assert_eq!(
            (created["status"].clone(), created["total"].clone()),
            (json!("PENDING"), json!(99.98))
        );
        let id = created["id"].as_str().unwrap();
        assert!(
            gateway.mocks.store.get_order(id.parse().unwrap()).is_some(),
            "the order exists in the store"
        );
    }
}

#[tokio::test]
async fn metadata_request_id_and_deadline_reach_the_backend() {
    let gateway = bridge().await;
    let url = gateway.url(&format!("/grpc/v1/orders/{}", seed::FIRST_ORDER_ID));
    let request = gateway
        .client
        .get(url)
        .header("x-tenant-id", "acme")
        .header(X_REQUEST_ID, "req-42")
        .header("cookie", "secret");
    let (status, headers, _) = json_call(request).await;
    assert_eq!(status, 200);
    assert_eq!(headers[X_REQUEST_ID], "req-42");
    let call = grpc_calls(&gateway, "GetOrder")
        .pop()
        .expect("one GetOrder call");
    assert_eq!(
        call.headers["x-tenant-id"], "acme",
        "configured metadata passes"
    );
    assert_eq!(call.headers[X_REQUEST_ID], "req-42");
    assert!(
        call.headers.get("cookie").is_none(),
        "unconfigured headers stay at the edge"
    );
    let timeout = call.headers["grpc-timeout"].to_str().unwrap();
    assert!(
        timeout.ends_with('m') && timeout.trim_end_matches('m').parse::<u64>().is_ok(),
        "grpc-timeout {timeout:?}"
    );
}

#[tokio::test]
async fn a_backend_error_is_a_google_rpc_status_body() {
    let gateway = bridge().await;
    let missing = uuid::Uuid::new_v4();
    let (status, _, body) = json_call(
        gateway
            .client
            .get(gateway.url(&format!("/grpc/v1/orders/{missing}"))),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], 5);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains(&missing.to_string()),
        "{body}"
    );
    assert!(body["details"].is_array());
}

#[tokio::test]
async fn every_grpc_status_maps_to_its_http_status() {
    let gateway = bridge().await;
    let table = [
        (Code::InvalidArgument, 400),
        (Code::FailedPrecondition, 400),
        (Code::OutOfRange, 400),
        (Code::Unauthenticated, 401),
        (Code::PermissionDenied, 403),
        (Code::NotFound, 404),
        (Code::AlreadyExists, 409),
        (Code::Aborted, 409),
        (Code::ResourceExhausted, 429),
        (Code::Cancelled, 499),
        (Code::Unimplemented, 501),
        (Code::Unavailable, 503),
        (Code::DeadlineExceeded, 504),
        (Code::Internal, 500),
        (Code::Unknown, 500),
        (Code::DataLoss, 500),
    ];
    let url = gateway.url(&format!("/grpc/v1/orders/{}", seed::FIRST_ORDER_ID));
    for (code, http) in table {
        gateway
            .mocks
            .orders_grpc
            .control
            .set_error_rate(1.0, FaultKind::Grpc(code));
        let (status, _, body) = json_call(gateway.client.get(&url)).await;
        assert_eq!(status, http, "{code:?}: {body}");
        assert_eq!(body["code"], code as i32, "{code:?}");
        assert_eq!(
            body["message"],
            "injected failure at the configured error rate"
        );
    }
}
