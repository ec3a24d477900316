//! The users, products and payments services, and the seeded data they
//! share with the orders services.

use mock_backends::seed;
use serde_json::Value;
use tests::mocks::{error_code, http, send_json, start_mocks, url};

async fn get(service: &mock_backends::ServiceHandle, path: &str) -> (u16, Value) {
    let (status, body) = send_json(http().get(url(service, path))).await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn users_by_id() {
    let mocks = start_mocks().await;
    let (status, user) = get(
        &mocks.users,
        &format!("/v1/users/{}", seed::FIRST_CUSTOMER_ID),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (user["name"].as_str(), user["email"].as_str()),
        (Some("John Doe"), Some("john@example.com"))
    );
    let (status, error) = get(&mocks.users, &format!("/v1/users/{}", uuid::Uuid::new_v4())).await;
    assert_eq!((status, error_code(&error)), (404, "USER_NOT_FOUND"));
    let (status, error) = get(&mocks.users, "/v1/users/c1").await;
    assert_eq!((status, error_code(&error)), (400, "INVALID_ID"));
}

#[tokio::test]
async fn products_by_id_with_weight() {
    let mocks = start_mocks().await;
    let (status, widget) = get(
        &mocks.products,
        &format!("/v1/products/{}", seed::FIRST_PRODUCT_ID),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (widget["name"].as_str(), widget["price"].as_f64()),
        (Some("Widget"), Some(29.99))
    );
    assert!(widget["weight_grams"].as_u64().is_some_and(|g| g > 0));
    let (status, error) = get(
        &mocks.products,
        &format!("/v1/products/{}", uuid::Uuid::new_v4()),
    )
    .await;
    assert_eq!((status, error_code(&error)), (404, "PRODUCT_NOT_FOUND"));
    assert_eq!(get(&mocks.products, "/v1/products/p1").await.0, 400);
}

#[tokio::test]
async fn product_batch_keeps_request_order_and_lists_missing_ids() {
    let mocks = start_mocks().await;
    let unknown = uuid::Uuid::new_v4();
    let ids = [
        seed::product_id(5),
        seed::FIRST_PRODUCT_ID,
        unknown,
        seed::SECOND_PRODUCT_ID,
    ];
    let list = ids
        .iter()
        .map(|id| id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let (status, batch) = get(&mocks.products, &format!("/v1/products?ids={list}")).await;
    assert_eq!(status, 200);
    let found: Vec<&str> = batch["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    let expected = [
        seed::product_id(5).to_string(),
        seed::FIRST_PRODUCT_ID.to_string(),
        seed::SECOND_PRODUCT_ID.to_string(),
    ];
    assert_eq!(found, expected);
    assert_eq!(batch["missing"], serde_json::json!([unknown]));
    let (status, error) = get(
        &mocks.products,
        &format!("/v1/products?ids={},bad", seed::FIRST_PRODUCT_ID),
    )
    .await;
    assert_eq!((status, error_code(&error)), (400, "INVALID_ID"));
    let (_, all) = get(&mocks.products, "/v1/products").await;
    assert_eq!(
        all["items"].as_array().unwrap().len(),
        seed::PRODUCT_COUNT as usize
    );
}

#[tokio::test]
async fn payments_by_order() {
    let mocks = start_mocks().await;
    let (status, payment) = get(
        &mocks.payments,
        &format!("/v1/payments/{}", seed::FIRST_ORDER_ID),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(payment["order_id"], seed::FIRST_ORDER_ID.to_string());
    assert_eq!(
        (payment["status"].as_str(), payment["amount"].as_f64()),
        (Some("completed"), Some(59.98))
    );
    assert!(payment["method"].is_string());
    let (status, error) = get(
        &mocks.payments,
        &format!("/v1/payments/{}", uuid::Uuid::new_v4()),
    )
    .await;
    assert_eq!((status, error_code(&error)), (404, "PAYMENT_NOT_FOUND"));
    assert_eq!(get(&mocks.payments, "/v1/payments/nope").await.0, 400);
}

#[tokio::test]
async fn every_seeded_order_resolves_its_customer_products_and_payment() {
    let mocks = start_mocks().await;
    let (_, orders) = get(&mocks.orders, "/v1/orders?page_size=100").await;
    let orders = orders["items"].as_array().unwrap().clone();
    assert_eq!(orders.len(), seed::ORDER_COUNT as usize);
    for order in &orders {
        let id = order["id"].as_str().unwrap();
        assert_eq!(
            get(
                &mocks.users,
                &format!("/v1/users/{}", order["customer_id"].as_str().unwrap())
            )
            .await
            .0,
            200
        );
        let ids: Vec<&str> = order["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["product_id"].as_str().unwrap())
            .collect();
        let (_, batch) = get(
            &mocks.products,
            &format!("/v1/products?ids={}", ids.join(",")),
        )
        .await;
        assert_eq!(batch["missing"], serde_json::json!([]), "order {id}");
        let (status, payment) = get(&mocks.payments, &format!("/v1/payments/{id}")).await;
        assert_eq!((status, &payment["amount"]), (200, &order["total"]));
    }
}

#[tokio::test]
async fn payment_follows_order_status_changes() {
    let mocks = start_mocks().await;
    let path = format!("/v1/payments/{}", seed::PENDING_ORDER_ID);
    assert_eq!(get(&mocks.payments, &path).await.1["status"], "pending");
    let patch = http()
        .patch(url(
            &mocks.orders,
            &format!("/v1/orders/{}/status", seed::PENDING_ORDER_ID),
        ))
        .json(&serde_json::json!({"status": "cancelled"}));
    assert_eq!(send_json(patch).await.0, 200);
    assert_eq!(get(&mocks.payments, &path).await.1["status"], "refunded");
}

#[tokio::test]
async fn every_service_serves_healthz() {
    let mocks = start_mocks().await;
    for kind in mock_backends::ServiceKind::ALL {
        let response = http()
            .get(url(mocks.service(kind), "/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{kind}");
    }
}

#[tokio::test]
async fn generated_orders_fill_the_store() {
    let options = mock_backends::MockOptions {
        seed_orders: 500,
        ..mock_backends::MockOptions::ephemeral()
    };
    let mocks = mock_backends::start_all(options).await.unwrap();
    let (_, page) = get(&mocks.orders, "/v1/orders?page=6&page_size=100").await;
    assert_eq!(
        page["total"].as_u64(),
        Some(u64::from(seed::ORDER_COUNT) + 500)
    );
    assert_eq!(page["items"].as_array().unwrap().len(), 36);
}
