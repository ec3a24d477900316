//! The subgraph schemas executed in-process: entity resolution, the
//! `@requires` input and the federation SDL.

use std::sync::Arc;

use async_graphql::{Request, Variables};
use serde_json::{Value, json};

use super::*;
use crate::seed::{FIRST_CUSTOMER_ID, FIRST_ORDER_ID, FIRST_PRODUCT_ID};

fn data(response: async_graphql::Response) -> Value {
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    response.data.into_json().unwrap()
}

const ENTITIES: &str = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { id shippingEstimate customer { name } } } }";

#[tokio::test]
async fn orders_entity_receives_required_weights() {
    let store = Arc::new(Store::seeded());
    let weight = store.get_product(FIRST_PRODUCT_ID).unwrap().weight_grams;
    let query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { id shippingEstimate } } }";
    let representation = json!([{ "__typename": "Order", "id": FIRST_ORDER_ID.to_string(),
        "items": [{ "product": { "weightGrams": weight } }] }]);
    let request =
        Request::new(query).variables(Variables::from_json(json!({ "r": representation })));
    let body = data(orders::schema(store).execute(request).await);
    let expected = crate::domain::round_cents(4.99 + f64::from(2 * weight) / 1000.0 * 1.5);
    assert_eq!(body["_entities"][0]["shippingEstimate"], json!(expected));
}

#[tokio::test]
async fn users_contribute_the_order_customer() {
    let store = Arc::new(Store::seeded());
    let query = ENTITIES.replace(" shippingEstimate", "");
    let representation = json!([{ "__typename": "Order", "id": FIRST_ORDER_ID.to_string() }]);
    let request =
        Request::new(query).variables(Variables::from_json(json!({ "r": representation })));
    let body = data(users::schema(Arc::clone(&store)).execute(request).await);
    let name = store.get_customer(FIRST_CUSTOMER_ID).unwrap().name;
    assert_eq!(body["_entities"][0]["customer"]["name"], json!(name));
}

#[test]
fn sdl_declares_federation_v2_and_the_directives() {
    let store = Arc::new(Store::seeded());
    let orders = SubgraphKind::Orders.sdl(Arc::clone(&store));
    assert!(orders.contains("https://specs.apollo.dev/federation/v2"));
    assert!(orders.contains("@requires(fields: \"items { product { weightGrams } }\")"));
    assert!(orders.contains("internalNote: String! @inaccessible"));
    let payments = SubgraphKind::Payments.sdl(store);
    assert!(payments.contains("@override(from: \"orders\")"));
    assert!(payments.contains("@provides(fields: \"name\")"));
}

#[test]
fn sdl_imports_and_applies_the_authorization_directives() {
    let store = Arc::new(Store::seeded());
    let users = SubgraphKind::Users.sdl(Arc::clone(&store));
    assert!(users.contains("\"@requiresScopes\", \"@authenticated\"]"));
    assert!(!users.contains("directive @authenticated"));
    assert!(users.contains("email: String! @authenticated"));
    let payments = SubgraphKind::Payments.sdl(store);
    assert!(payments.contains("reference: String! @requiresScopes(scopes: [[\"payments:read\"]])"));
    assert!(payments.contains(
        "accountEmail: String! @requiresScopes(scopes: [[\"payments:read\", \"pii:read\"], [\"admin\"]])"
    ));
}

#[tokio::test]
async fn service_sdl_is_the_same_federation_sdl() {
    let store = Arc::new(Store::seeded());
    let response = users::schema(Arc::clone(&store))
        .execute("{ _service { sdl } }")
        .await;
    let body = data(response);
    // `_service` ends with one more blank line (async-graphql's
    // compose-directive section); the rest is identical.
    assert_eq!(
        body["_service"]["sdl"].as_str().map(str::trim_end),
        Some(SubgraphKind::Users.sdl(store).trim_end())
    );
}
