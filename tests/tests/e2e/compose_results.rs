//! Composition results: the shipped order-details route answers with the
//! right data, and every call carries the client's auth and request id.

use gateway::context::X_REQUEST_ID;
use mock_backends::seed::{FIRST_CUSTOMER_ID, FIRST_ORDER_ID, FIRST_PRODUCT_ID};
use serde_json::Value;
use tests::gateway::TestGateway;

use super::compose_support::order_details;

#[tokio::test]
async fn the_default_order_details_route_composes_all_four_services() {
    let gw = TestGateway::with_default_routes().await;
    let url = gw.url(&format!("/v1/orders/{FIRST_ORDER_ID}/details"));
    let response = gw.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("x-gateway-partial").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["order_id"], FIRST_ORDER_ID.to_string());
    assert_eq!(body["status"], "shipped");
    assert_eq!(body["total"], 59.98);
    assert_eq!(body["customer"]["id"], FIRST_CUSTOMER_ID.to_string());
    assert_eq!(body["customer"]["name"], "John Doe");
    assert_eq!(body["customer"]["email"], "john@example.com");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["quantity"], 2);
    assert_eq!(items[0]["product"]["id"], FIRST_PRODUCT_ID.to_string());
    assert_eq!(items[0]["product"]["name"], "Widget");
    assert_eq!(body["payment"]["status"], "completed");
    assert!(
        body["payment"].get("id").is_none(),
        "payment fields outside $allow are dropped"
    );
    assert!(body.get("_meta").is_none());
}

#[tokio::test]
async fn every_call_carries_authorization_and_the_request_id() {
    let gw = TestGateway::start(&order_details("", "")).await;
    let response = gw
        .client
        .get(gw.url(&format!("/v1/orders/{FIRST_ORDER_ID}/details")))
        .header("authorization", "Bearer t0ken")
        .header(X_REQUEST_ID, "req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    for service in [
        &gw.mocks.orders,
        &gw.mocks.users,
        &gw.mocks.products,
        &gw.mocks.payments,
    ] {
        let requests = service.control.requests();
        assert_eq!(requests.len(), 1);
        let headers = &requests[0].headers;
        assert_eq!(
            headers["authorization"], "Bearer t0ken",
            "{:?}",
            service.kind
        );
        assert_eq!(headers[X_REQUEST_ID], "req-42", "{:?}", service.kind);
    }
}

#[tokio::test]
async fn a_missing_order_is_the_clients_404() {
    let gw = TestGateway::start(&order_details("", ", optional: true")).await;
    let missing = uuid::Uuid::nil();
    let response = gw
        .client
        .get(gw.url(&format!("/v1/orders/{missing}/details")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "NOT_FOUND");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"order\""),
        "{body}"
    );
    assert_eq!(
        gw.mocks.users.control.request_count(),
        0,
        "nothing that needs the order was called"
    );
}
