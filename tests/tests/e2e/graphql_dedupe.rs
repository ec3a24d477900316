//! Identical subgraph queries in flight at once share one subgraph request
//! (`graphql.traffic_shaping.*.dedupe`, on by default); turned off, each
//! client request makes its own.

use std::time::Duration;

use mock_backends::seed::FIRST_ORDER_ID;
use serde_json::json;
use tests::federation::FederatedGateway;

const QUERY: &str = "query($id: ID!) { order(id: $id) { status } }";

/// One worker, so every client connection shares one dedupe table.
fn config(dedupe: bool) -> String {
    format!(
        "server:\n  workers: 1\ngraphql:\n  supergraph: $SUPERGRAPH\n  traffic_shaping:\n    all:\n      dedupe: {dedupe}\n"
    )
}

/// Holds the orders subgraph's first request (injected latency), sends
/// three more identical queries meanwhile, and returns how many requests
/// the subgraph received for the four.
async fn four_identical_queries(fed: &FederatedGateway) -> usize {
    let orders = &fed.subgraphs.orders;
    // Composition fetched the subgraph's SDL: not one of these requests.
    orders.control.clear_requests();
    orders
        .control
        .set_latency(Duration::from_secs(2), Duration::ZERO);
    let variables = json!({ "id": FIRST_ORDER_ID });
    let first = fed.post(QUERY, variables.clone());
    let rest = async {
        orders.control.wait_for_requests(|r| !r.is_empty()).await;
        futures::future::join3(
            fed.post(QUERY, variables.clone()),
            fed.post(QUERY, variables.clone()),
            fed.post(QUERY, variables.clone()),
        )
        .await
    };
    let (first, (b, c, d)) = futures::join!(first, rest);
    for (status, body) in [first, b, c, d] {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["order"]["status"], "SHIPPED", "{body}");
        assert!(body.get("errors").is_none(), "{body}");
    }
    orders.control.requests().len()
}

#[tokio::test]
async fn identical_queries_in_flight_share_one_subgraph_request() {
    let fed = FederatedGateway::start(&config(true)).await;
    assert_eq!(four_identical_queries(&fed).await, 1);
}

#[tokio::test]
async fn with_dedupe_off_each_query_makes_its_own_request() {
    let fed = FederatedGateway::start(&config(false)).await;
    assert_eq!(four_identical_queries(&fed).await, 4);
}
