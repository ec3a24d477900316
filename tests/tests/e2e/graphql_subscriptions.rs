//! Subscriptions end to end: `orderStatusChanged` over graphql-transport-ws
//! and over SSE fires for a change made over REST, with fields of other
//! subgraphs (the customer's name, from users) resolved for each event.

use futures::{SinkExt, StreamExt};
use mock_backends::seed::PENDING_ORDER_ID;
use serde_json::{Value, json};
use tests::federation::{FederatedGateway, SUPERGRAPH_FILE_CONFIG};
use tests::gateway::eventually;
use tests::mocks::within;
use tokio_tungstenite::tungstenite::Message;

const SUBSCRIPTION: &str = "subscription($id: ID) { orderStatusChanged(id: $id) { previousStatus status order { id customer { name } } } }";

async fn confirm_over_rest(fed: &FederatedGateway) {
    let url = format!(
        "{}/v1/orders/{PENDING_ORDER_ID}/status",
        fed.gw.mocks.orders.url()
    );
    let response = fed
        .gw
        .client
        .patch(url)
        .json(&json!({ "status": "confirmed" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn subscription_opened(fed: &FederatedGateway) {
    eventually("the upstream subscription is open", || async {
        fed.subgraphs.orders.open_subscriptions() == 1
    })
    .await;
}

fn expected_event() -> Value {
    json!({ "data": { "orderStatusChanged": {
        "previousStatus": "PENDING", "status": "CONFIRMED",
        "order": { "id": PENDING_ORDER_ID.to_string(), "customer": { "name": "Jane Smith" } } } } })
}

#[tokio::test]
async fn websocket_subscribers_see_a_change_made_over_rest() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let (mut socket, response) = fed.connect_graphql_ws().await;
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    socket
        .send(Message::text(
            json!({ "type": "connection_init" }).to_string(),
        ))
        .await
        .unwrap();
    let ack = within("ack", socket.next()).await.unwrap().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(ack.to_text().unwrap()).unwrap()["type"],
        "connection_ack"
    );
    let subscribe = json!({ "type": "subscribe", "id": "s1",
        "payload": { "query": SUBSCRIPTION, "variables": { "id": PENDING_ORDER_ID } } });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .unwrap();
    subscription_opened(&fed).await;
    confirm_over_rest(&fed).await;
    let next = within("next", socket.next()).await.unwrap().unwrap();
    let next: Value = serde_json::from_str(next.to_text().unwrap()).unwrap();
    assert_eq!(next["type"], "next");
    assert_eq!(next["id"], "s1");
    assert_eq!(next["payload"], expected_event());
    socket
        .send(Message::text(
            json!({ "type": "complete", "id": "s1" }).to_string(),
        ))
        .await
        .unwrap();
    eventually("the upstream subscription is closed", || async {
        fed.subgraphs.orders.open_subscriptions() == 0
    })
    .await;
}

#[tokio::test]
async fn sse_subscribers_see_a_change_made_over_rest() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let response = fed
        .subscribe_sse(SUBSCRIPTION, json!({ "id": PENDING_ORDER_ID }))
        .await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.bytes_stream();
    subscription_opened(&fed).await;
    confirm_over_rest(&fed).await;
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = within("an SSE event", body.next()).await.unwrap().unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let data = text
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .unwrap();
    assert!(text.starts_with("event: next\n"), "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(data).unwrap(),
        expected_event()
    );
}

#[tokio::test]
async fn an_invalid_websocket_handshake_is_a_400_graphql_error_naming_what_is_wrong() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let handshake = |protocol: &'static str, version: &'static str| {
        fed.gw
            .client
            .get(fed.gw.url("/graphql"))
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", version)
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-protocol", protocol)
            .send()
    };
    for (protocol, version, expected) in [
        (
            "graphql-ws",
            "13",
            "subprotocol must be graphql-transport-ws",
        ),
        ("graphql-transport-ws", "8", "sec-websocket-version"),
    ] {
        let response = handshake(protocol, version).await.unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{body}");
    }
}

/// A graphql-transport-ws session after `connection_ack`.
async fn acknowledged_socket(fed: &FederatedGateway) -> tests::federation::GraphqlSocket {
    let (mut socket, _) = fed.connect_graphql_ws().await;
    socket
        .send(Message::text(
            json!({ "type": "connection_init" }).to_string(),
        ))
        .await
        .unwrap();
    let ack = within("ack", socket.next()).await.unwrap().unwrap();
    assert_eq!(ack.to_text().unwrap(), r#"{"type":"connection_ack"}"#);
    socket
}

#[tokio::test]
async fn the_client_close_handshake_is_answered() {
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let mut socket = acknowledged_socket(&fed).await;
    socket
        .send(Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "done".into(),
        })))
        .await
        .unwrap();
    // The server echoes the close frame (RFC 6455 §5.5.1), then the
    // connection ends cleanly: no reset, so no 1006 on the client.
    let reply = within("the close reply", socket.next()).await;
    match reply {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Normal),
        other => panic!("expected the server's close frame, got {other:?}"),
    }
    let end = within("the end of the stream", socket.next()).await;
    assert!(end.is_none(), "expected a clean end, got {end:?}");
}

#[tokio::test]
async fn a_protocol_violation_is_closed_with_its_code_and_a_handshake() {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let mut socket = acknowledged_socket(&fed).await;
    socket
        .send(Message::text(
            json!({ "type": "connection_init" }).to_string(),
        ))
        .await
        .unwrap();
    match within("the close frame", socket.next()).await {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!(frame.code, CloseCode::from(4429));
            assert_eq!(frame.reason.as_str(), "Too many initialisation requests");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    // The client's reply completes the handshake; then the stream ends.
    let end = within("the end of the stream", socket.next()).await;
    assert!(end.is_none(), "expected a clean end, got {end:?}");
}
