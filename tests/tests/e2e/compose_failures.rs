//! Failure policy: optional calls give partial responses, required ones
//! the right status; timeouts and client disconnects cancel outstanding
//! upstream calls (seen as cancelled or unfinished records in the mocks).

use std::time::Duration;

use http::StatusCode;
use mock_backends::seed::FIRST_ORDER_ID;
use mock_backends::{FaultKind, Outcome};
use serde_json::Value;
use tests::gateway::TestGateway;
use tests::mocks::cancelled_call;

use super::compose_support::order_details;

fn details_url(gw: &TestGateway) -> String {
    gw.url(&format!("/v1/orders/{FIRST_ORDER_ID}/details"))
}

#[tokio::test]
async fn a_failed_optional_call_gives_a_partial_response_with_meta() {
    let gw = TestGateway::start(&order_details("", ", optional: true")).await;
    gw.mocks
        .payments
        .control
        .set_error_rate(1.0, FaultKind::Http(StatusCode::SERVICE_UNAVAILABLE));
    let response = gw.client.get(details_url(&gw)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-gateway-partial"], "true");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["payment"], Value::Null);
    assert_eq!(body["customer"]["name"], "John Doe", "the rest is complete");
    let errors = body["_meta"]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["call"], "payment");
    assert_eq!(errors[0]["code"], "UPSTREAM_BAD_STATUS");
    assert_eq!(errors[0]["status"], 503);
    // The backend's status, never its name (docs/security.md, "Error bodies").
    let message = errors[0]["message"].as_str().unwrap();
    assert!(message.contains("503"), "{message}");
    assert!(!message.contains("payments"), "{message}");
}

#[tokio::test]
async fn a_failed_required_call_is_a_bad_gateway() {
    let gw = TestGateway::start(&order_details("", ", optional: true")).await;
    gw.mocks
        .users
        .control
        .set_error_rate(1.0, FaultKind::Http(StatusCode::INTERNAL_SERVER_ERROR));
    let response = gw.client.get(details_url(&gw)).send().await.unwrap();
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "UPSTREAM_BAD_STATUS");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"customer\""),
        "{body}"
    );
}

#[tokio::test]
async fn an_unreachable_required_backend_is_a_bad_gateway() {
    let gw = TestGateway::start(&order_details("", ", optional: true")).await;
    gw.mocks.products.control.set_down(true).await;
    let response = gw.client.get(details_url(&gw)).send().await.unwrap();
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "UPSTREAM_UNAVAILABLE");
}

#[tokio::test]
async fn a_slow_required_call_times_out_with_504_and_is_cancelled() {
    let gw = TestGateway::start(&order_details("", ", optional: true").replace(
        "path: \"/v1/users/{order.customer_id}\" }",
        "path: \"/v1/users/{order.customer_id}\", timeout: 100ms }",
    ))
    .await;
    gw.mocks
        .users
        .control
        .set_latency(Duration::from_secs(30), Duration::ZERO);
    let response = gw.client.get(details_url(&gw)).send().await.unwrap();
    assert_eq!(response.status(), 504);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "UPSTREAM_TIMEOUT");
    let users = gw.mocks.users.control.clone();
    let cancelled = tokio::time::timeout(
        Duration::from_secs(10),
        users.wait_for_requests(|r| r.iter().any(|r| r.outcome == Outcome::Cancelled)),
    );
    assert!(
        cancelled.await.is_ok(),
        "the timed-out users call was cancelled upstream: {:?}",
        users.requests()
    );
}

#[tokio::test]
async fn the_route_deadline_cancels_outstanding_calls() {
    let gw = TestGateway::start(&order_details("    timeout: 300ms", "")).await;
    gw.mocks
        .products
        .control
        .set_latency(Duration::from_secs(30), Duration::ZERO);
    gw.mocks
        .payments
        .control
        .set_latency(Duration::from_secs(30), Duration::ZERO);
    let response = gw.client.get(details_url(&gw)).send().await.unwrap();
    assert_eq!(response.status(), 504);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "COMPOSE_DEADLINE_EXCEEDED");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("products") && message.contains("payment"),
        "{message}"
    );
    for service in [&gw.mocks.products, &gw.mocks.payments] {
        let calls = cancelled_call(&service.control, "").await;
        assert_eq!(calls.len(), 1, "{calls:?}");
    }
}

#[tokio::test]
async fn an_optional_call_past_the_deadline_is_null_and_cancelled() {
    let gw = TestGateway::start(&order_details("    timeout: 300ms", ", optional: true")).await;
    gw.mocks
        .payments
        .control
        .set_latency(Duration::from_secs(30), Duration::ZERO);
    let response = gw.client.get(details_url(&gw)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-gateway-partial"], "true");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["payment"], Value::Null);
    assert_eq!(
        body["_meta"]["errors"][0]["code"],
        "COMPOSE_DEADLINE_EXCEEDED"
    );
    let calls = cancelled_call(&gw.mocks.payments.control, "").await;
    assert_eq!(calls.len(), 1, "{calls:?}");
}

#[tokio::test]
async fn a_client_disconnect_cancels_outstanding_calls() {
    let gw = TestGateway::start(&order_details("", "")).await;
    gw.mocks
        .payments
        .control
        .set_latency(Duration::from_secs(30), Duration::ZERO);
    let payments = gw.mocks.payments.control.clone();
    let request = gw.client.get(details_url(&gw)).send();
    let arrived = payments.wait_for_requests(|r| !r.is_empty());
    tokio::select! {
        _ = request => panic!("the composition cannot finish while payments sleeps"),
        _ = arrived => {}
    }
    // The client's request future is dropped here: the connection closes.
    let calls = cancelled_call(&payments, "").await;
    assert_eq!(calls.len(), 1, "{calls:?}");
}
