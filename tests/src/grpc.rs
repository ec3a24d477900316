//! Helpers for the gRPC bridge tests: the default routes, the orders gRPC
//! mock's request log, and JSON bodies for OrderService messages.

use mock_backends::{RecordedRequest, seed};
use serde_json::{Value, json};

use crate::gateway::TestGateway;

/// The gateway on the repository's routes.yaml, over fresh mocks.
pub async fn bridge() -> TestGateway {
    TestGateway::with_default_routes().await
}

/// The gRPC calls the orders gRPC mock received for one method
/// (`"GetOrder"`), in arrival order.
pub fn grpc_calls(gateway: &TestGateway, method: &str) -> Vec<RecordedRequest> {
    let path = format!("/orders.OrderService/{method}");
    gateway.mocks.orders_grpc.control.requests().into_iter().filter(|r| r.path == path).collect()
}

/// Every gRPC call the orders gRPC mock received.
pub fn grpc_call_count(gateway: &TestGateway) -> usize {
    gateway.mocks.orders_grpc.control.requests().iter().filter(|r| r.path.starts_with("/orders.")).count()
}

/// A valid CreateOrderRequest in proto3 JSON (lowerCamelCase).
pub fn create_order_json(quantity: i32) -> Value {
    json!({
        "customerId": seed::FIRST_CUSTOMER_ID.to_string(),
        "items": [{"productId": seed::SECOND_PRODUCT_ID.to_string(), "quantity": quantity, "unitPrice": 49.99}],
    })
}

/// Sends a request and returns the status, headers and JSON body.
pub async fn json_call(request: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body read");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, headers, body)
}
