//! Federated queries through `/graphql`: one entity across four
//! subgraphs, `@requires`, `@provides`, `@override`, `@shareable`, an
//! interface and a union, aliases, fragments, variables with defaults,
//! mutations, GET and the response media type.

use mock_backends::domain::round_cents;
use mock_backends::seed::{FIRST_CUSTOMER_ID, FIRST_ORDER_ID, FIRST_PRODUCT_ID};
use serde_json::{Value, json};
use tests::federation::{FederatedGateway, SUPERGRAPH_FILE_CONFIG, first_code};

const ORDER_ACROSS_SUBGRAPHS: &str = r#"
query Order($id: ID!) {
  order(id: $id) {
    id status total
    customer { name }
    items { quantity product { name sku weightGrams } }
    payment { status method { __typename label ... on CardMethod { wallet } } payer { name } }
    shippingEstimate
  }
}"#;

#[tokio::test]
async fn one_order_is_resolved_across_four_subgraphs() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let data = fed
        .data(ORDER_ACROSS_SUBGRAPHS, json!({ "id": FIRST_ORDER_ID }))
        .await;
    let store = &fed.gw.mocks.store;
    let customer = store.get_customer(FIRST_CUSTOMER_ID).unwrap();
    let product = store.get_product(FIRST_PRODUCT_ID).unwrap();
    let order = &data["order"];
    assert_eq!(order["id"], json!(FIRST_ORDER_ID.to_string()));
    assert_eq!(order["status"], "SHIPPED");
    assert_eq!(order["customer"], json!({ "name": customer.name }));
    assert_eq!(order["items"][0]["quantity"], 2);
    assert_eq!(order["items"][0]["product"]["sku"], json!(product.sku));
    let grams = 2.0 * f64::from(product.weight_grams);
    assert_eq!(
        order["shippingEstimate"],
        json!(round_cents(4.99 + grams / 1000.0 * 1.5))
    );
    assert_eq!(order["payment"]["payer"]["name"], json!(customer.name));
    assert!(order["payment"]["method"]["label"].is_string());
}

#[tokio::test]
async fn provides_lets_payments_answer_the_payer_name_without_users() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let query = "query($id: ID!) { order(id: $id) { payment { payer { name } } } }";
    let data = fed.data(query, json!({ "id": FIRST_ORDER_ID })).await;
    assert_eq!(data["order"]["payment"]["payer"]["name"], "John Doe");
    assert!(
        fed.subgraphs.users.operations().is_empty(),
        "users was called: {:?}",
        fed.subgraphs.users.operations()
    );
}

#[tokio::test]
async fn override_moves_order_total_to_payments() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let query = "query($id: ID!) { order(id: $id) { total } }";
    let data = fed.data(query, json!({ "id": FIRST_ORDER_ID })).await;
    assert_eq!(data["order"]["total"], 59.98);
    let asked_orders_for_total = fed
        .subgraphs
        .orders
        .operations()
        .iter()
        .any(|op| op.contains("total"));
    assert!(
        !asked_orders_for_total,
        "{:?}",
        fed.subgraphs.orders.operations()
    );
    assert!(
        fed.subgraphs
            .payments
            .operations()
            .iter()
            .any(|op| op.contains("total"))
    );
}

#[tokio::test]
async fn union_members_are_completed_by_their_own_subgraph() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let query = r#"{ search(text: "Widget") { __typename ... on Product { name price } ... on Order { id } } }"#;
    let data = fed.data(query, json!({})).await;
    let hits = data["search"].as_array().unwrap();
    assert!(!hits.is_empty());
    let widget = fed.gw.mocks.store.get_product(FIRST_PRODUCT_ID).unwrap();
    assert_eq!(
        hits[0],
        json!({ "__typename": "Product", "name": widget.name, "price": widget.price })
    );
}

#[tokio::test]
async fn aliases_fragments_and_default_variables_shape_the_response() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let query = r#"
      query Page($first: Int = 2) { page: orders(first: $first) { nodes { ...Summary } count: totalCount } }
      fragment Summary on Order { orderId: id state: status who: customer { name } }"#;
    let data = fed.data(query, json!({})).await;
    let nodes = data["page"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0]["orderId"], json!(FIRST_ORDER_ID.to_string()));
    assert_eq!(nodes[0]["who"]["name"], "John Doe");
    assert_eq!(
        data["page"]["count"],
        json!(fed.gw.mocks.store.order_count())
    );
    assert_eq!(
        nodes[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["orderId", "state", "who"]
    );
}

#[tokio::test]
async fn inaccessible_fields_are_not_queryable() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let (status, body) = fed
        .post_strict(
            "query($id: ID!) { order(id: $id) { internalNote } }",
            json!({ "id": FIRST_ORDER_ID }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(first_code(&body), "GRAPHQL_VALIDATION_FAILED");
}

#[tokio::test]
async fn a_mutation_writes_the_store_that_rest_reads() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let query = r#"mutation($input: CreateOrderInput!) { createOrder(input: $input) { id status customer { name } } }"#;
    let input = json!({ "customerId": FIRST_CUSTOMER_ID, "items": [{ "productId": FIRST_PRODUCT_ID, "quantity": 3 }] });
    let data = fed.data(query, json!({ "input": input })).await;
    assert_eq!(data["createOrder"]["status"], "PENDING");
    assert_eq!(data["createOrder"]["customer"]["name"], "John Doe");
    let id = data["createOrder"]["id"].as_str().unwrap();
    let rest = format!("{}/v1/orders/{id}", fed.gw.mocks.orders.url());
    let order: Value = fed
        .gw
        .client
        .get(rest)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(order["items"][0]["quantity"], 3);
}

#[tokio::test]
async fn get_serves_queries_and_refuses_mutations() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let url = fed.gw.url("/graphql");
    let query = fed
        .gw
        .client
        .get(&url)
        .query(&[("query", "{ customers { name } }")])
        .header("accept", "application/graphql-response+json")
        .send()
        .await
        .unwrap();
    assert_eq!(query.status(), 200);
    assert_eq!(
        query.headers()["content-type"],
        "application/graphql-response+json"
    );
    let body: Value = query.json().await.unwrap();
    assert_eq!(body["data"]["customers"][0]["name"], "John Doe");
    let mutation = "mutation { updateOrderStatus(id: \"x\", status: SHIPPED) { id } }";
    let refused = fed
        .gw
        .client
        .get(&url)
        .query(&[("query", mutation)])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 405);
    assert_eq!(refused.headers()["allow"], "POST");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(first_code(&body), "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn skip_include_and_root_typename_follow_the_variables() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let query = r#"query($id: ID!, $withCustomer: Boolean!, $skipPayment: Boolean = true) {
        __typename
        order(id: $id) { id customer @include(if: $withCustomer) { name } payment @skip(if: $skipPayment) { status } }
    }"#;
    let data = fed
        .data(
            query,
            json!({ "id": FIRST_ORDER_ID, "withCustomer": false }),
        )
        .await;
    assert_eq!(data["__typename"], "Query");
    assert_eq!(data["order"], json!({ "id": FIRST_ORDER_ID.to_string() }));
    assert!(
        fed.subgraphs.users.operations().is_empty()
            && fed.subgraphs.payments.operations().is_empty()
    );
    let data = fed
        .data(
            query,
            json!({ "id": FIRST_ORDER_ID, "withCustomer": true, "skipPayment": false }),
        )
        .await;
    assert_eq!(data["order"]["customer"]["name"], "John Doe");
    assert!(data["order"]["payment"]["status"].is_string());
}
