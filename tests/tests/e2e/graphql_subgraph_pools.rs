//! GraphQL subgraphs as ordinary backends: their pools are listed on
//! `/upstreams`, `graphql.traffic_shaping` sets their timeouts and
//! limits, and subscriptions to a subgraph go through its pool.

use std::time::Duration;

use mock_backends::seed::{FIRST_ORDER_ID, PENDING_ORDER_ID};
use serde_json::{Value, json};
use tests::federation::{FederatedGateway, SUPERGRAPH_FILE_CONFIG, first_code};
use tests::gateway::eventually;

const ORDER_QUERY: &str = "query($id: ID!) { order(id: $id) { id customer { name } } }";
const SUBSCRIPTION: &str = "subscription($id: ID) { orderStatusChanged(id: $id) { status } }";

async fn upstreams(fed: &FederatedGateway) -> Value {
    fed.gw
        .client
        .get(fed.gw.admin_url("/upstreams"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The in-flight count of subgraph `name`'s only endpoint.
async fn in_flight(fed: &FederatedGateway, name: &str) -> u64 {
    upstreams(fed).await[format!("subgraph:{name}")]["endpoints"][0]["in_flight"]
        .as_u64()
        .expect("a subgraph pool with one endpoint")
}

#[tokio::test]
async fn upstreams_lists_every_subgraph_pool() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let report = upstreams(&fed).await;
    for (name, handle) in [
        ("orders", &fed.subgraphs.orders),
        ("users", &fed.subgraphs.users),
        ("products", &fed.subgraphs.products),
        ("payments", &fed.subgraphs.payments),
    ] {
        let endpoints = &report[format!("subgraph:{name}")]["endpoints"];
        assert_eq!(
            endpoints[0]["url"],
            format!("http://{}/", handle.addr),
            "{report}"
        );
        assert_eq!(endpoints[0]["ejected"], false);
    }
}

#[tokio::test]
async fn a_subgraphs_request_timeout_comes_from_traffic_shaping() {
    let yaml = format!(
        "{SUPERGRAPH_FILE_CONFIG}  expose_subgraph_errors: true\n  traffic_shaping:\n    subgraphs:\n      users: {{ request_timeout: 200ms }}\n"
    );
    let fed = FederatedGateway::start(&yaml).await;
    fed.subgraphs
        .users
        .control
        .set_latency(Duration::from_secs(30), Duration::ZERO);
    let (status, body) = fed.post(ORDER_QUERY, json!({ "id": FIRST_ORDER_ID })).await;
    assert_eq!(status, 200);
    assert_eq!(first_code(&body), "SUBGRAPH_TIMEOUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["serviceName"], "users");
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(
        fed.subgraphs.orders.operations().len(),
        1,
        "the orders subgraph, on its default timeout, answered"
    );
}

#[tokio::test]
async fn a_subscription_is_in_flight_on_its_subgraphs_pool_while_open() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    assert_eq!(in_flight(&fed, "orders").await, 0);
    let events = fed
        .subscribe_sse(SUBSCRIPTION, json!({ "id": PENDING_ORDER_ID }))
        .await;
    eventually("the upstream subscription is open", || async {
        fed.subgraphs.orders.open_subscriptions() == 1
    })
    .await;
    assert_eq!(in_flight(&fed, "orders").await, 1);
    drop(events);
    eventually("the subscription's connection is released", || async {
        in_flight(&fed, "orders").await == 0
    })
    .await;
}

#[tokio::test]
async fn an_open_subscription_holds_one_of_its_subgraphs_connection_slots() {
    let yaml = format!(
        "{SUPERGRAPH_FILE_CONFIG}  traffic_shaping:\n    subgraphs:\n      orders: {{ max_connections: 1, request_timeout: 300ms }}\n"
    );
    let fed = FederatedGateway::start(&yaml).await;
    let events = fed
        .subscribe_sse(SUBSCRIPTION, json!({ "id": PENDING_ORDER_ID }))
        .await;
    eventually("the upstream subscription is open", || async {
        fed.subgraphs.orders.open_subscriptions() == 1
    })
    .await;
    let (_, body) = fed.post(ORDER_QUERY, json!({ "id": FIRST_ORDER_ID })).await;
    assert_eq!(first_code(&body), "SUBGRAPH_TIMEOUT", "{body}");
    drop(events);
    eventually("the slot is free again", || async {
        fed.post(ORDER_QUERY, json!({ "id": FIRST_ORDER_ID }))
            .await
            .1["data"]["order"]["id"]
            == FIRST_ORDER_ID.to_string()
    })
    .await;
}

#[tokio::test]
async fn a_subscription_to_a_refusing_subgraph_counts_toward_its_ejection() {
    let yaml = format!(
        "{SUPERGRAPH_FILE_CONFIG}  traffic_shaping:\n    subgraphs:\n      orders: {{ ejection: {{ consecutive_failures: 1, cooldown: 1m }} }}\n"
    );
    let fed = FederatedGateway::start(&yaml).await;
    fed.subgraphs.orders.control.set_down(true).await;
    let response = fed
        .gw
        .client
        .post(fed.gw.url("/graphql"))
        .header("accept", "text/event-stream")
        .json(&json!({ "query": SUBSCRIPTION, "variables": { "id": PENDING_ORDER_ID } }))
        .send()
        .await
        .unwrap();
    let body = response.text().await.unwrap();
    assert!(body.contains("SUBGRAPH_UNAVAILABLE"), "{body}");
    let endpoint = &upstreams(&fed).await["subgraph:orders"]["endpoints"][0];
    assert_eq!(endpoint["consecutive_failures"], 1, "{endpoint}");
    assert_eq!(endpoint["ejected"], true, "{endpoint}");
}
