//! The handlers' own metrics, moved by exactly what a test sends:
//! composition cache hits, misses and coalesced calls; GraphQL operations,
//! cache lookups, errors and subgraph fetches; open streams.

use std::time::Duration;

use mock_backends::seed::{FIRST_ORDER_ID, PENDING_ORDER_ID};
use serde_json::json;
use tests::federation::{FederatedGateway, SUPERGRAPH_FILE_CONFIG};
use tests::gateway::{TestGateway, eventually};
use tests::metrics::scrape;

use super::compose_support::order_details;

/// Named, because the parser used here (prometheus-parse) cannot read a
/// `}` inside a label value, as in the default name `GET /v1/orders/{id}/details`
/// (which Prometheus itself reads).
const DETAILS_ROUTE: &str = "details";
const NAMED: &str = "    name: details";

async fn details(gw: &TestGateway) {
    let url = gw.url(&format!("/v1/orders/{FIRST_ORDER_ID}/details"));
    let response = gw.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap();
}

#[tokio::test]
async fn composition_cache_lookups_are_counted_per_route_and_call() {
    let yaml = order_details(NAMED, ", cache: { ttl: 60s }").replace(
        "    compose:\n",
        "    compose:\n      cache: { ttl: 60s, vary: [x-variant] }\n",
    );
    let gw = TestGateway::start(&yaml).await;
    details(&gw).await;
    // Another vary value: the composed response misses, the payment call hits.
    let url = gw.url(&format!("/v1/orders/{FIRST_ORDER_ID}/details"));
    let response = gw.client.get(url).header("x-variant", "b");
    assert_eq!(response.send().await.unwrap().status(), 200);
    details(&gw).await;
    let metrics = scrape(&gw).await;
    let response_cache = |result| [("route", DETAILS_ROUTE), ("result", result)];
    let name = "gateway_compose_response_cache_lookups_total";
    assert_eq!(
        metrics.value(name, &response_cache("miss")),
        2.0,
        "{}",
        metrics.text
    );
    assert_eq!(metrics.value(name, &response_cache("hit")), 1.0);
    let payment = |result| {
        [
            ("route", DETAILS_ROUTE),
            ("call", "payment"),
            ("result", result),
        ]
    };
    let name = "gateway_compose_call_cache_lookups_total";
    assert_eq!(metrics.value(name, &payment("miss")), 1.0);
    assert_eq!(metrics.value(name, &payment("hit")), 1.0);
    assert_eq!(
        metrics.value(name, &[("call", "order")]),
        0.0,
        "calls without a cache are not looked up"
    );
}

#[tokio::test]
async fn coalesced_composition_calls_are_counted() {
    let gw = TestGateway::start(&order_details(NAMED, "")).await;
    gw.mocks
        .orders
        .control
        .set_latency(Duration::from_millis(500), Duration::ZERO);
    // Both start within the first call's 500 ms: the second joins it.
    futures::future::join(details(&gw), details(&gw)).await;
    assert_eq!(gw.mocks.orders.control.request_count(), 1, "one order call");
    let metrics = scrape(&gw).await;
    let order = [("route", DETAILS_ROUTE), ("call", "order")];
    assert_eq!(
        metrics.value("gateway_compose_coalesced_calls_total", &order),
        1.0,
        "{}",
        metrics.text
    );
}

const ORDER_QUERY: &str = "query OrderStatus($id: ID!) { order(id: $id) { status } }";

#[tokio::test]
async fn graphql_operations_caches_errors_and_subgraph_fetches_are_counted() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    for _ in 0..2 {
        fed.data(ORDER_QUERY, json!({ "id": FIRST_ORDER_ID })).await;
    }
    let (status, _) = fed
        .post_strict("{ order(id: 1) { internalNote } }", json!({}))
        .await;
    assert_eq!(status, 400);
    let metrics = scrape(&fed.gw).await;
    let operation = [
        ("graphql_operation_type", "query"),
        ("graphql_operation_name", "OrderStatus"),
    ];
    assert_eq!(
        metrics.value("gateway_graphql_operations_total", &operation),
        2.0,
        "{}",
        metrics.text
    );
    let cache = |cache, result| [("cache", cache), ("result", result)];
    let lookups = "gateway_graphql_cache_lookups_total";
    assert_eq!(metrics.value(lookups, &cache("operation", "miss")), 1.0);
    assert_eq!(metrics.value(lookups, &cache("operation", "hit")), 1.0);
    assert_eq!(metrics.value(lookups, &cache("plan", "miss")), 1.0);
    let validation = [("code", "GRAPHQL_VALIDATION_FAILED")];
    assert_eq!(
        metrics.value("gateway_graphql_errors_total", &validation),
        1.0
    );
    // `order { status }` is one fetch to the orders subgraph per query.
    let fetches = metrics.histogram_count(
        "gateway_graphql_subgraph_fetch_duration_seconds",
        &[("subgraph", "orders")],
    );
    assert_eq!(fetches, 2.0, "{}", metrics.text);
}

const SUBSCRIPTION: &str = "subscription($id: ID) { orderStatusChanged(id: $id) { status } }";

#[tokio::test]
async fn an_open_sse_stream_is_counted_until_it_closes() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let sse = [("kind", "sse")];
    assert_eq!(
        scrape(&fed.gw).await.value("gateway_open_streams", &sse),
        0.0
    );
    let stream = fed
        .subscribe_sse(SUBSCRIPTION, json!({ "id": PENDING_ORDER_ID }))
        .await;
    let metrics = scrape(&fed.gw).await;
    assert_eq!(metrics.value("gateway_open_streams", &sse), 1.0);
    assert_eq!(
        metrics.value("gateway_open_streams", &[("kind", "websocket")]),
        0.0
    );
    drop(stream);
    eventually("the stream is counted out", || async {
        scrape(&fed.gw).await.value("gateway_open_streams", &sse) == 0.0
    })
    .await;
}

#[tokio::test]
async fn an_open_websocket_session_is_counted_until_it_ends() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let websocket = [("kind", "websocket")];
    let (socket, _) = fed.connect_graphql_ws().await;
    eventually("the session is counted", || async {
        scrape(&fed.gw)
            .await
            .value("gateway_open_streams", &websocket)
            == 1.0
    })
    .await;
    drop(socket);
    eventually("the session is counted out", || async {
        scrape(&fed.gw)
            .await
            .value("gateway_open_streams", &websocket)
            == 0.0
    })
    .await;
}

#[tokio::test]
async fn an_ndjson_stream_is_counted_until_it_ends() {
    let gateway = tests::grpc::bridge().await;
    let id = tests::grpc::new_order_id(&gateway).await;
    let ndjson = [("kind", "ndjson")];
    let response = tests::grpc::watch_order(&gateway, &id, false).await;
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    assert_eq!(
        scrape(&gateway)
            .await
            .value("gateway_open_streams", &ndjson),
        1.0
    );
    let mut lines = tests::grpc::StreamReader::ndjson(response);
    for status in ["confirmed", "shipped", "delivered"] {
        tests::grpc::set_status(&gateway, &id, status).await;
        lines.next_json().await.expect("an update");
    }
    assert_eq!(
        lines.next_json().await,
        None,
        "the stream ends after DELIVERED"
    );
    eventually("the ended stream is counted out", || async {
        scrape(&gateway)
            .await
            .value("gateway_open_streams", &ndjson)
            == 0.0
    })
    .await;
}
