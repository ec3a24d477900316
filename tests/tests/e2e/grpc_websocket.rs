//! The gRPC bridge, bidirectional streaming (OrderUpdates) over WebSocket:
//! one JSON message per frame each way, errors as close codes.

use futures::{SinkExt, StreamExt};
use mock_backends::{FaultKind, seed};
use serde_json::{Value, json};
use tests::gateway::TestGateway;
use tests::grpc::{bridge, grpc_call_count, json_call};
use tests::mocks::{cancelled_call, within};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(gateway: &TestGateway) -> Socket {
    let url = format!("ws://{}/grpc/v1/orders/updates", gateway.gateway.addr);
    let (socket, response) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket upgrade");
    assert_eq!(response.status(), 101);
    socket
}

async fn send(socket: &mut Socket, command: Value) {
    socket
        .send(Message::text(command.to_string()))
        .await
        .expect("frame sent");
}

async fn next_event(socket: &mut Socket) -> Value {
    match within("an event", socket.next()).await {
        Some(Ok(Message::Text(text))) => serde_json::from_str(&text).expect("JSON event"),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

async fn close_frame(socket: &mut Socket) -> (CloseCode, String) {
    loop {
        match within("the close frame", socket.next()).await {
            Some(Ok(Message::Close(Some(frame)))) => return (frame.code, frame.reason.to_string()),
            Some(Ok(Message::Text(text))) => panic!("unexpected event {text}"),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn commands_and_events_flow_both_ways_on_one_socket() {
    let gateway = bridge().await;
    let mut socket = connect(&gateway).await;
    let id = seed::PENDING_ORDER_ID.to_string();
    send(&mut socket, json!({"orderId": id, "action": "confirm"})).await;
    let confirmed = next_event(&mut socket).await;
    assert_eq!(
        (
            confirmed["eventType"].as_str(),
            confirmed["status"].as_str()
        ),
        (Some("confirm_applied"), Some("CONFIRMED"))
    );
    send(&mut socket, json!({"order_id": id, "action": "deliver"})).await;
    let rejected = next_event(&mut socket).await;
    assert_eq!(rejected["eventType"], "deliver_rejected", "{rejected}");
    send(&mut socket, json!({"orderId": id, "action": "ship"})).await;
    assert_eq!(next_event(&mut socket).await["status"], "SHIPPED");
    socket.close(None).await.expect("close sent");
    assert!(
        within("the end", socket.next())
            .await
            .is_none_or(|frame| matches!(frame, Ok(Message::Close(_))))
    );
}

#[tokio::test]
async fn a_frame_that_is_not_a_valid_message_closes_with_1007() {
    let gateway = bridge().await;
    let mut socket = connect(&gateway).await;
    send(
        &mut socket,
        json!({"orderId": seed::PENDING_ORDER_ID.to_string(), "action": "confirm"}),
    )
    .await;
    next_event(&mut socket).await;
    socket
        .send(Message::text("{\"orderId\": 42}"))
        .await
        .unwrap();
    let (code, reason) = close_frame(&mut socket).await;
    assert_eq!(u16::from(code), 1007);
    assert!(reason.starts_with("INVALID_FIELD_VALUE"), "{reason}");
}

#[tokio::test]
async fn a_grpc_error_closes_with_4000_plus_its_code() {
    let gateway = bridge().await;
    gateway
        .mocks
        .orders_grpc
        .control
        .set_error_rate(1.0, FaultKind::Grpc(tonic::Code::PermissionDenied));
    let mut socket = connect(&gateway).await;
    let (code, reason) = close_frame(&mut socket).await;
    assert_eq!(u16::from(code), 4007);
    assert!(
        reason.starts_with("PERMISSION_DENIED: injected failure"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_plain_get_on_the_websocket_route_is_400() {
    let gateway = bridge().await;
    let (status, _, body) =
        json_call(gateway.client.get(gateway.url("/grpc/v1/orders/updates"))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["details"][0]["reason"], "WEBSOCKET_REQUIRED");
    assert_eq!(grpc_call_count(&gateway), 0);
}

#[tokio::test]
async fn a_handshake_with_an_old_websocket_version_is_400_naming_the_header() {
    let gateway = bridge().await;
    let request = gateway
        .client
        .get(gateway.url("/grpc/v1/orders/updates"))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "8")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    let (status, _, body) = json_call(request).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["details"][0]["reason"], "WEBSOCKET_REQUIRED");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("sec-websocket-version"), "{body}");
    assert_eq!(grpc_call_count(&gateway), 0);
}

#[tokio::test]
async fn a_client_that_drops_the_socket_cancels_the_backend_call() {
    let gateway = bridge().await;
    let mut socket = connect(&gateway).await;
    send(
        &mut socket,
        json!({"orderId": seed::PENDING_ORDER_ID.to_string(), "action": "confirm"}),
    )
    .await;
    next_event(&mut socket).await;
    drop(socket); // the TCP connection closes without a close frame
    let control = &gateway.mocks.orders_grpc.control;
    cancelled_call(control, "/OrderUpdates").await;
}
