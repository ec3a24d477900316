//! At drain start every long-lived stream ends cleanly, so the shutdown
//! waits only for ordinary requests: gRPC server streams (NDJSON, SSE) and
//! GraphQL subscriptions over SSE get a final event saying the gateway is
//! going away; the gRPC bidi WebSocket closes 1001; a GraphQL subscription
//! over WebSocket gets `complete`, then close 1001.

use futures::{SinkExt, StreamExt};
use mock_backends::seed::PENDING_ORDER_ID;
use serde_json::{Value, json};
use tests::federation::{FederatedGateway, SUPERGRAPH_FILE_CONFIG};
use tests::gateway::{TestGateway, eventually};
use tests::grpc::{StreamReader, bridge, new_order_id, watch_order};
use tests::mocks::{cancelled_call, within};
use tokio_tungstenite::tungstenite::Message;

const SUBSCRIPTION: &str =
    "subscription($id: ID) { orderStatusChanged(id: $id) { status order { id } } }";

async fn open_watch(gateway: &TestGateway, sse: bool) -> reqwest::Response {
    watch_order(gateway, &new_order_id(gateway).await, sse).await
}

fn assert_shutting_down(status: &Value) {
    assert_eq!(status["code"], 14, "UNAVAILABLE: {status}");
    assert_eq!(status["details"][0]["reason"], "SHUTTING_DOWN", "{status}");
}

#[tokio::test]
async fn an_ndjson_watch_ends_with_a_shutting_down_line() {
    let gateway = bridge().await;
    let mut lines = StreamReader::ndjson(open_watch(&gateway, false).await);
    gateway.gateway.begin_shutdown();
    let last = lines.next_json().await.expect("a final line");
    assert_shutting_down(&last["error"]);
    assert_eq!(within("the end", lines.next()).await, None);
    cancelled_call(&gateway.mocks.orders_grpc.control, "/WatchOrder").await;
    assert!(gateway.gateway.wait().await, "drained within the grace");
}

#[tokio::test]
async fn an_sse_watch_ends_with_a_shutting_down_event() {
    let gateway = bridge().await;
    let mut events = StreamReader::sse(open_watch(&gateway, true).await);
    gateway.gateway.begin_shutdown();
    let event = within("the final event", events.next())
        .await
        .expect("a final event");
    let data = event
        .strip_prefix("event: error\ndata: ")
        .unwrap_or_else(|| panic!("an error event: {event}"));
    assert_shutting_down(&serde_json::from_str(data).unwrap());
    assert_eq!(within("the end", events.next()).await, None);
    assert!(gateway.gateway.wait().await, "drained within the grace");
}

#[tokio::test]
async fn the_bidi_websocket_closes_with_1001() {
    let gateway = bridge().await;
    let url = format!("ws://{}/grpc/v1/orders/updates", gateway.gateway.addr);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let command = json!({"orderId": PENDING_ORDER_ID.to_string(), "action": "confirm"});
    socket
        .send(Message::text(command.to_string()))
        .await
        .unwrap();
    within("an event", socket.next()).await.unwrap().unwrap();
    gateway.gateway.begin_shutdown();
    let close = match within("the close frame", socket.next()).await {
        Some(Ok(Message::Close(Some(frame)))) => frame,
        other => panic!("expected a close frame, got {other:?}"),
    };
    assert_eq!(u16::from(close.code), 1001);
    assert!(
        close.reason.starts_with("SHUTTING_DOWN"),
        "{}",
        close.reason
    );
    cancelled_call(&gateway.mocks.orders_grpc.control, "/OrderUpdates").await;
    assert!(gateway.gateway.wait().await, "drained within the grace");
}

async fn federated() -> FederatedGateway {
    FederatedGateway::start(&format!(
        "server: {{ shutdown_grace: 10s }}\n{SUPERGRAPH_FILE_CONFIG}"
    ))
    .await
}

async fn subscription_opened(fed: &FederatedGateway, open: usize) {
    eventually("the upstream subscription count", || async {
        fed.subgraphs.orders.open_subscriptions() == open
    })
    .await;
}

#[tokio::test]
async fn a_graphql_sse_subscription_ends_with_a_shutting_down_error_then_complete() {
    let fed = federated().await;
    let response = fed
        .subscribe_sse(SUBSCRIPTION, json!({ "id": PENDING_ORDER_ID }))
        .await;
    let mut events = StreamReader::sse(response);
    subscription_opened(&fed, 1).await;
    fed.gw.gateway.begin_shutdown();
    let last = within("the final event", events.next()).await.unwrap();
    let data = last.strip_prefix("event: next\ndata: ").expect(&last);
    let data: Value = serde_json::from_str(data).unwrap();
    assert_eq!(data["errors"][0]["extensions"]["code"], "SHUTTING_DOWN");
    let complete = within("complete", events.next()).await.unwrap();
    assert!(complete.starts_with("event: complete"), "{complete}");
    assert_eq!(within("the end", events.next()).await, None);
    subscription_opened(&fed, 0).await;
    assert!(fed.gw.gateway.wait().await, "drained within the grace");
}

#[tokio::test]
async fn a_graphql_websocket_subscription_gets_complete_then_close_1001() {
    let fed = federated().await;
    let (mut socket, _) = fed.connect_graphql_ws().await;
    let send = |value: Value| Message::text(value.to_string());
    socket
        .send(send(json!({ "type": "connection_init" })))
        .await
        .unwrap();
    within("ack", socket.next()).await.unwrap().unwrap();
    let subscribe = json!({ "type": "subscribe", "id": "s1",
        "payload": { "query": SUBSCRIPTION, "variables": { "id": PENDING_ORDER_ID } } });
    socket.send(send(subscribe)).await.unwrap();
    subscription_opened(&fed, 1).await;
    fed.gw.gateway.begin_shutdown();
    let complete = within("complete", socket.next()).await.unwrap().unwrap();
    let complete: Value = serde_json::from_str(complete.to_text().unwrap()).unwrap();
    assert_eq!(complete, json!({ "type": "complete", "id": "s1" }));
    match within("the close frame", socket.next()).await {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("expected a close frame, got {other:?}"),
    }
    subscription_opened(&fed, 0).await;
    assert!(fed.gw.gateway.wait().await, "drained within the grace");
}
