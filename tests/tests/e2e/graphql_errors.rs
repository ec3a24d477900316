//! Errors and partial data: a subgraph that is down or failing, null
//! propagation, masked subgraph errors with their paths, and requests
//! rejected before any subgraph call.

use mock_backends::seed::{DELIVERED_ORDER_ID, FIRST_ORDER_ID};
use serde_json::{Value, json};
use tests::federation::{FederatedGateway, SUPERGRAPH_FILE_CONFIG, first_code};
use tests::gateway::eventually;

async fn wait_until_refused(addr: std::net::SocketAddr) {
    eventually("the subgraph refuses connections", || async move {
        tokio::net::TcpStream::connect(addr).await.is_err()
    })
    .await;
}

#[tokio::test]
async fn a_subgraph_that_is_down_yields_partial_data() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    fed.subgraphs.payments.stop();
    wait_until_refused(fed.subgraphs.payments.addr).await;
    let query = "query($id: ID!) { order(id: $id) { id status payment { status } } }";
    let (status, body) = fed.post(query, json!({ "id": FIRST_ORDER_ID })).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["order"]["status"], "SHIPPED");
    assert_eq!(body["data"]["order"]["payment"], Value::Null);
    assert_eq!(first_code(&body), "SUBGRAPH_UNAVAILABLE");
    assert_eq!(body["errors"][0]["path"], json!(["order"]));
    // The subgraph's name is shown only with expose_subgraph_errors.
    assert!(body["errors"][0]["extensions"].get("serviceName").is_none());
}

#[tokio::test]
async fn a_null_in_a_non_null_field_nulls_the_nearest_nullable_parent() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    fed.subgraphs
        .users
        .set_forced_status(Some(http::StatusCode::INTERNAL_SERVER_ERROR));
    let query =
        "query($id: ID!) { order(id: $id) { id customer { name } } other: order(id: $id) { id } }";
    let (status, body) = fed.post(query, json!({ "id": FIRST_ORDER_ID })).await;
    assert_eq!(status, 200);
    // `customer` is non-null, so its failure nulls the whole `order`...
    assert_eq!(body["data"]["order"], Value::Null);
    // ...and nothing else.
    assert_eq!(
        body["data"]["other"]["id"],
        json!(FIRST_ORDER_ID.to_string())
    );
    assert_eq!(first_code(&body), "SUBGRAPH_HTTP_ERROR");
}

#[tokio::test]
async fn subgraph_errors_are_masked_and_keep_their_path() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let mutation = "mutation($id: ID!) { updateOrderStatus(id: $id, status: PENDING) { id } }";
    let (status, body) = fed
        .post(mutation, json!({ "id": DELIVERED_ORDER_ID }))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"], Value::Null);
    assert_eq!(body["errors"][0]["message"], "Subgraph errors redacted");
    assert_eq!(first_code(&body), "DOWNSTREAM_SERVICE_ERROR");
    assert_eq!(body["errors"][0]["path"], json!(["updateOrderStatus"]));
}

#[tokio::test]
async fn subgraph_errors_can_be_exposed() {
    let yaml = "graphql:\n  supergraph: $SUPERGRAPH\n  expose_subgraph_errors: true\n";
    let fed = FederatedGateway::start(yaml).await;
    let mutation = "mutation($id: ID!) { updateOrderStatus(id: $id, status: PENDING) { id } }";
    let (_, body) = fed
        .post(mutation, json!({ "id": DELIVERED_ORDER_ID }))
        .await;
    assert_eq!(first_code(&body), "ILLEGAL_TRANSITION");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("cannot change from delivered")
    );
}

const LIMITED: &str = r#"
graphql:
  supergraph: $SUPERGRAPH
  limits: { max_depth: 3, max_aliases: 2, max_root_fields: 3, max_tokens: 60, max_body: 1kb }
"#;

#[tokio::test]
async fn each_limit_rejects_before_any_subgraph_call() {
    let fed = FederatedGateway::start(LIMITED).await;
    let cases = [
        (
            "{ orders { nodes { items { product { name } } } } }",
            "MAX_DEPTH_EXCEEDED",
        ),
        (
            "{ a: customers { id } b: customers { id } c: customers { id } }",
            "MAX_ALIASES_EXCEEDED",
        ),
        (
            "{ customers { id } products { id } orders { totalCount } search(text: \"x\") { __typename } }",
            "MAX_ROOT_FIELDS_EXCEEDED",
        ),
        (
            &format!("{{ customers {{ {} }} }}", "id ".repeat(80)),
            "MAX_TOKENS_EXCEEDED",
        ),
    ];
    for (query, code) in cases {
        let (status, body) = fed.post(query, json!({})).await;
        assert_eq!((status, first_code(&body)), (400, code), "{query}: {body}");
    }
    let big = json!({ "query": format!("{{ customers {{ id }} }} #{}", "x".repeat(2000)) });
    let response = fed
        .gw
        .client
        .post(fed.gw.url("/graphql"))
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(first_code(&body), "BODY_TOO_LARGE");
    for kind in mock_backends::SubgraphKind::ALL {
        assert!(
            fed.subgraphs.get(kind).operations().is_empty(),
            "{kind} was called"
        );
    }
}

#[tokio::test]
async fn malformed_requests_get_graphql_shaped_errors() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let url = fed.gw.url("/graphql");
    let bad_json = fed
        .gw
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
    assert_eq!(
        first_code(&bad_json.json::<Value>().await.unwrap()),
        "BAD_REQUEST"
    );
    // GraphQL over HTTP: a well-formed request whose document fails is
    // 200 in `application/json` (clients of that type read `errors`) and
    // 400 in `application/graphql-response+json`.
    for (query, code) in [
        ("{ customers { ", "GRAPHQL_PARSE_FAILED"),
        ("{ nosuchfield }", "GRAPHQL_VALIDATION_FAILED"),
    ] {
        let (status, body) = fed.post(query, json!({})).await;
        assert_eq!((status, first_code(&body)), (200, code), "{body}");
        assert!(body.get("data").is_none(), "{body}");
        let (status, body) = fed.post_strict(query, json!({})).await;
        assert_eq!((status, first_code(&body)), (400, code), "{body}");
    }
    let put = fed.gw.client.put(&url).send().await.unwrap();
    assert_eq!(put.status(), 405);
}

/// Variable values are coerced against their declared types before any
/// subgraph is called (GraphQL, "CoerceVariableValues"): each kind of bad
/// value is a `BAD_USER_INPUT` error naming the variable and where in it
/// the problem is, 200 in `application/json` and 400 in
/// `application/graphql-response+json`, and no subgraph sees the
/// operation.
#[tokio::test]
async fn variables_that_do_not_coerce_are_refused_before_any_fetch() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let order = "query($id: ID!) { order(id: $id) { status } }";
    let create = "mutation($input: CreateOrderInput!) { createOrder(input: $input) { id } }";
    let status_change = "mutation($id: ID!, $status: OrderStatus!) { updateOrderStatus(id: $id, status: $status) { id } }";
    let item = |quantity: Value| json!({"productId": "p1", "quantity": quantity});
    let cases = [
        (
            order,
            json!({"id": null}),
            "Variable \"$id\" of non-null type \"ID!\" must not be null.",
        ),
        (
            order,
            json!({}),
            "Variable \"$id\" of required type \"ID!\" was not provided.",
        ),
        (
            order,
            json!({"id": true}),
            "ID cannot represent value: true",
        ),
        (
            create,
            json!({"input": {"customerId": "c1", "items": [item(json!(1)), item(json!("two"))]}}),
            "at \"input.items[1].quantity\"; Int cannot represent non-integer value: \"two\"",
        ),
        (
            create,
            json!({"input": {"customerId": "c1", "items": [], "coupon": "FREE"}}),
            "Field \"coupon\" is not defined by type \"CreateOrderInput\".",
        ),
        (
            create,
            json!({"input": {"items": []}}),
            "Field \"customerId\" of required type \"ID!\" was not provided.",
        ),
        (
            status_change,
            json!({"id": FIRST_ORDER_ID, "status": "LOST"}),
            "Value \"LOST\" does not exist in \"OrderStatus\" enum.",
        ),
    ];
    for (query, variables, message) in cases {
        let (status, body) = fed.post(query, variables.clone()).await;
        assert_eq!(
            (status, first_code(&body)),
            (200, "BAD_USER_INPUT"),
            "{variables}: {body}"
        );
        let text = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            text.contains(message),
            "{variables}: {text:?} should contain {message:?}"
        );
        assert!(body.get("data").is_none(), "{body}");
        let (status, body) = fed.post_strict(query, variables.clone()).await;
        assert_eq!(
            (status, first_code(&body)),
            (400, "BAD_USER_INPUT"),
            "{body}"
        );
    }
    for kind in mock_backends::SubgraphKind::ALL {
        assert!(
            fed.subgraphs.get(kind).operations().is_empty(),
            "{kind} was called"
        );
    }
    // What coerces goes through: an ID written as a number, a single item
    // where a list is expected, a nullable field left out.
    let data = fed.data(order, json!({"id": FIRST_ORDER_ID})).await;
    assert!(data["order"]["status"].is_string(), "{data}");
    let (status, body) = fed.post(order, json!({"id": 42})).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(first_code(&body), "BAD_USER_INPUT", "{body}");
}
