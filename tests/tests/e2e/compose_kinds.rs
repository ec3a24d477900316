//! Call kinds in one composition: a unary gRPC call through the bridge's
//! transcoder feeding a REST call.

use gateway::context::X_REQUEST_ID;
use mock_backends::seed::FIRST_ORDER_ID;
use serde_json::Value;
use tests::gateway::TestGateway;

const ROUTES: &str = r#"
propagate:
  all:
    - propagate: { named: authorization }
backends:
  orders-grpc: { url: $ORDERS_GRPC, protocol: h2c }
  users: { url: $USERS }
grpc:
  protos: [proto/orders.proto]
  include: [proto]
routes:
  - path: /v1/orders/{id}/summary
    method: GET
    compose:
      calls:
        order:
          backend: orders-grpc
          grpc: orders.OrderService/GetOrder
          body: { order_id: "{id}" }
        customer: { backend: users, path: "/v1/users/{order.customerId}" }
      response:
        id: "{order.id}"
        status: "{order.status}"
        first_product: "{order.items[0].productId}"
        customer: "{customer.name}"
"#;

#[tokio::test]
async fn a_grpc_call_feeds_a_rest_call() {
    let gw = TestGateway::start(ROUTES).await;
    let url = gw.url(&format!("/v1/orders/{FIRST_ORDER_ID}/summary"));
    let response = gw
        .client
        .get(url)
        .header("authorization", "Bearer g")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], FIRST_ORDER_ID.to_string());
    assert_eq!(body["status"], "SHIPPED");
    assert!(body["first_product"].is_string());
    assert_eq!(body["customer"], "John Doe");
    let grpc = gw.mocks.orders_grpc.control.requests();
    assert_eq!(grpc.len(), 1);
    assert_eq!(grpc[0].path, "/orders.OrderService/GetOrder");
    assert_eq!(grpc[0].headers["authorization"], "Bearer g");
    assert!(grpc[0].headers.contains_key(X_REQUEST_ID));
}

#[tokio::test]
async fn a_grpc_not_found_on_the_primary_call_is_the_clients_404() {
    let gw = TestGateway::start(ROUTES).await;
    let url = gw.url(&format!("/v1/orders/{}/summary", uuid::Uuid::nil()));
    let response = gw.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "NOT_FOUND");
    assert_eq!(gw.mocks.users.control.request_count(), 0);
}
