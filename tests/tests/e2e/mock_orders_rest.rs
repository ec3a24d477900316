//! The orders REST service: every endpoint and every error case of issue 2.

use mock_backends::seed;
use serde_json::{Value, json};
use tests::mocks::{
    create_order, error_code, h2c, http, new_order_body, send_json, start_mocks, url,
};

#[tokio::test]
async fn create_returns_201_with_location_total_status_and_time() {
    let mocks = start_mocks().await;
    let response = http()
        .post(url(&mocks.orders, "/v1/orders"))
        .json(&new_order_body(2))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let order: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/orders/{}", order["id"].as_str().unwrap())
    );
    assert_eq!(order["total"], 59.98);
    assert_eq!(order["status"], "pending");
    assert_eq!(order["customer_id"], seed::FIRST_CUSTOMER_ID.to_string());
    let created_at = order["created_at"].as_str().unwrap();
    assert!(created_at.ends_with('Z'), "{created_at}");
    chrono::DateTime::parse_from_rfc3339(created_at).expect("RFC 3339");
    let (status, fetched) = send_json(http().get(url(&mocks.orders, &location))).await;
    assert_eq!((status.as_u16(), &fetched), (200, &order));
}

#[tokio::test]
async fn create_lists_every_invalid_field_with_422() {
    let mocks = start_mocks().await;
    let body = json!({"customer_id": "not-a-uuid", "items": [
        {"product_id": seed::FIRST_PRODUCT_ID, "quantity": 0, "unit_price": -1},
        {"product_id": "nope", "quantity": 1, "unit_price": 2.5},
    ]});
    let (status, error) =
        send_json(http().post(url(&mocks.orders, "/v1/orders")).json(&body)).await;
    assert_eq!(status, 422);
    assert_eq!(error_code(&error), "VALIDATION_FAILED");
    let fields: Vec<&str> = error["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "customer_id",
            "items[0].quantity",
            "items[0].unit_price",
            "items[1].product_id"
        ]
    );
    let empty = json!({"customer_id": seed::FIRST_CUSTOMER_ID, "items": []});
    let (status, error) =
        send_json(http().post(url(&mocks.orders, "/v1/orders")).json(&empty)).await;
    assert_eq!(
        (
            status.as_u16(),
            error["error"]["fields"][0]["field"].as_str()
        ),
        (422, Some("items"))
    );
    assert_eq!(
        mocks.store.order_count(),
        seed::ORDER_COUNT as usize,
        "nothing was created"
    );
}

#[tokio::test]
async fn malformed_json_is_400_and_wrong_content_type_is_415() {
    let mocks = start_mocks().await;
    let post = || http().post(url(&mocks.orders, "/v1/orders"));
    let (status, error) = send_json(
        post()
            .header("content-type", "application/json")
            .body("{\"customer_id\":"),
    )
    .await;
    assert_eq!(
        (status.as_u16(), error_code(&error)),
        (400, "MALFORMED_JSON")
    );
    let (status, error) = send_json(
        post()
            .header("content-type", "text/plain")
            .body(new_order_body(1).to_string()),
    )
    .await;
    assert_eq!(
        (status.as_u16(), error_code(&error)),
        (415, "UNSUPPORTED_MEDIA_TYPE")
    );
    let (status, _) = send_json(post().body(new_order_body(1).to_string())).await;
    assert_eq!(status, 415, "a missing content type is not JSON either");
}

#[tokio::test]
async fn get_answers_404_for_unknown_and_400_for_malformed_ids() {
    let mocks = start_mocks().await;
    let (status, error) = send_json(http().get(url(
        &mocks.orders,
        &format!("/v1/orders/{}", uuid::Uuid::new_v4()),
    )))
    .await;
    assert_eq!(
        (status.as_u16(), error_code(&error)),
        (404, "ORDER_NOT_FOUND")
    );
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not found")
    );
    let (status, error) = send_json(http().get(url(&mocks.orders, "/v1/orders/12345"))).await;
    assert_eq!((status.as_u16(), error_code(&error)), (400, "INVALID_ID"));
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("12345")
    );
}

#[tokio::test]
async fn etag_and_if_none_match_give_304_until_the_order_changes() {
    let mocks = start_mocks().await;
    let path = url(
        &mocks.orders,
        &format!("/v1/orders/{}", seed::PENDING_ORDER_ID),
    );
    let first = http().get(&path).send().await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let cached = http()
        .get(&path)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    assert_eq!(cached.headers()["etag"], etag.as_str());
    assert!(cached.bytes().await.unwrap().is_empty());
    let patch = http()
        .patch(format!("{path}/status"))
        .json(&json!({"status": "confirmed"}));
    assert_eq!(send_json(patch).await.0, 200);
    let changed = http()
        .get(&path)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"], etag.as_str());
}

async fn list(mocks: &mock_backends::MockBackends, query: &str) -> (u16, Value) {
    let (status, body) =
        send_json(http().get(url(&mocks.orders, &format!("/v1/orders{query}")))).await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn listing_is_paginated_with_links_and_stable_order() {
    let mocks = start_mocks().await;
    let (status, page1) = list(&mocks, "").await;
    assert_eq!(status, 200);
    assert_eq!(
        (page1["page"].as_u64(), page1["page_size"].as_u64()),
        (Some(1), Some(10))
    );
    assert_eq!(page1["total"].as_u64(), Some(u64::from(seed::ORDER_COUNT)));
    assert_eq!(page1["items"][0]["id"], seed::FIRST_ORDER_ID.to_string());
    assert_eq!(
        page1["links"],
        json!({"self": "/v1/orders?page=1&page_size=10", "next": "/v1/orders?page=2&page_size=10", "prev": null})
    );
    let (_, page2) = list(&mocks, "?page=2&page_size=10").await;
    assert_eq!(page2["links"]["prev"], "/v1/orders?page=1&page_size=10");
    let (_, everything) = list(&mocks, "?page_size=100").await;
    let ids = |page: &Value| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&page2), ids(&everything)[10..20]);
    assert_eq!(everything["links"]["next"], Value::Null);
    assert_eq!(
        list(&mocks, "?page_size=100").await.1,
        everything,
        "the order is stable"
    );
}

#[tokio::test]
async fn filters_apply_and_links_keep_them() {
    let mocks = start_mocks().await;
    let customer = seed::FIRST_CUSTOMER_ID;
    let (status, page) = list(
        &mocks,
        &format!("?status=shipped&customer_id={customer}&page_size=1"),
    )
    .await;
    assert_eq!(status, 200);
    let items = page["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(
        items
            .iter()
            .all(|o| o["status"] == "shipped" && o["customer_id"] == customer.to_string())
    );
    let expected_self =
        format!("/v1/orders?page=1&page_size=1&status=shipped&customer_id={customer}");
    assert_eq!(page["links"]["self"], expected_self);
    if page["total"].as_u64() > Some(1) {
        assert_eq!(
            page["links"]["next"],
            expected_self.replace("page=1&", "page=2&")
        );
    }
}

#[tokio::test]
async fn bad_listing_queries_are_400() {
    let mocks = start_mocks().await;
    for query in [
        "?page=0",
        "?page=-1",
        "?page=abc",
        "?page_size=0",
        "?page_size=101",
        "?status=lost",
        "?customer_id=42",
    ] {
        let (status, body) = list(&mocks, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            ["INVALID_QUERY", "INVALID_ID"].contains(&error_code(&body)),
            "{query}"
        );
    }
    assert_eq!(list(&mocks, "?page_size=100&page=1").await.0, 200);
}

async fn patch_status(mocks: &mock_backends::MockBackends, id: &str, body: Value) -> (u16, Value) {
    let request = http()
        .patch(url(&mocks.orders, &format!("/v1/orders/{id}/status")))
        .json(&body);
    let (status, body) = send_json(request).await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn status_follows_the_lifecycle_and_illegal_moves_are_409() {
    let mocks = start_mocks().await;
    let order = create_order(&mocks, 1).await;
    let id = order["id"].as_str().unwrap();
    for next in ["confirmed", "shipped", "delivered"] {
        let (status, body) = patch_status(&mocks, id, json!({"status": next})).await;
        assert_eq!((status, body["status"].as_str()), (200, Some(next)));
    }
    let (status, body) = patch_status(&mocks, id, json!({"status": "cancelled"})).await;
    assert_eq!((status, error_code(&body)), (409, "ILLEGAL_TRANSITION"));
    let skip = create_order(&mocks, 1).await;
    let (status, _) = patch_status(
        &mocks,
        skip["id"].as_str().unwrap(),
        json!({"status": "shipped"}),
    )
    .await;
    assert_eq!(status, 409, "pending cannot skip to shipped");
    let (status, body) = patch_status(
        &mocks,
        &seed::CONFIRMED_ORDER_ID.to_string(),
        json!({"status": "cancelled"}),
    )
    .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("cancelled")));
}

#[tokio::test]
async fn status_update_errors() {
    let mocks = start_mocks().await;
    let pending = seed::PENDING_ORDER_ID.to_string();
    let (status, body) = patch_status(&mocks, &pending, json!({"status": "teleported"})).await;
    assert_eq!((status, error_code(&body)), (422, "VALIDATION_FAILED"));
    let (status, body) = patch_status(
        &mocks,
        &uuid::Uuid::new_v4().to_string(),
        json!({"status": "confirmed"}),
    )
    .await;
    assert_eq!((status, error_code(&body)), (404, "ORDER_NOT_FOUND"));
    let (status, body) = patch_status(&mocks, "x", json!({"status": "confirmed"})).await;
    assert_eq!((status, error_code(&body)), (400, "INVALID_ID"));
}

#[tokio::test]
async fn delete_is_204_then_404() {
    let mocks = start_mocks().await;
    let path = url(
        &mocks.orders,
        &format!("/v1/orders/{}", seed::FIRST_ORDER_ID),
    );
    let (status, body) = send_json(http().delete(&path)).await;
    assert_eq!((status.as_u16(), body), (204, Value::Null));
    assert_eq!(send_json(http().get(&path)).await.0, 404);
    let (status, body) = send_json(http().delete(&path)).await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (404, "ORDER_NOT_FOUND")
    );
}

#[tokio::test]
async fn h2c_with_prior_knowledge_is_served_on_the_same_port() {
    let mocks = start_mocks().await;
    let response = h2c()
        .get(url(
            &mocks.orders,
            &format!("/v1/orders/{}", seed::FIRST_ORDER_ID),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    let http1 = http()
        .get(url(&mocks.orders, "/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(http1.version(), reqwest::Version::HTTP_11);
}

#[tokio::test]
async fn unknown_routes_are_404_json() {
    let mocks = start_mocks().await;
    let (status, body) = send_json(http().get(url(&mocks.orders, "/v2/nothing"))).await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (404, "ROUTE_NOT_FOUND")
    );
}

#[tokio::test]
async fn wrong_methods_are_405_json_with_allow() {
    let mocks = start_mocks().await;
    let response = http()
        .put(url(&mocks.orders, "/v1/orders"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let allow = response
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "METHOD_NOT_ALLOWED");
    assert!(allow.is_some_and(|a| a.contains("GET") && a.contains("POST")));
}
