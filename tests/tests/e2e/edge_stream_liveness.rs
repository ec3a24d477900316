//! Long-lived streams keep their own liveness rules: a quiet SSE stream
//! gets heartbeat comments, and a WebSocket client that stops answering
//! pings is closed with 1001.

use futures::StreamExt;
use tests::gateway::TestGateway;
use tests::grpc::{StreamReader, new_order_id, watch_order};
use tests::mocks::within;
use tests::raw::read_until_closed;
use tokio_tungstenite::tungstenite::Message;

/// The repository's routes with short stream liveness settings.
async fn gateway() -> TestGateway {
    TestGateway::with_default_routes_edited(|yaml| {
        let server = "server:\n";
        assert!(yaml.contains(server), "routes.yaml has a server section");
        yaml.replacen(
            server,
            "server:\n  streams: { sse_heartbeat: 100ms, websocket_ping_interval: 100ms, websocket_pong_timeout: 200ms }\n",
            1,
        )
    })
    .await
}

#[tokio::test]
async fn a_quiet_grpc_sse_stream_gets_heartbeat_comments() {
    let gateway = gateway().await;
    let id = new_order_id(&gateway).await;
    let response = watch_order(&gateway, &id, true).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut events = StreamReader::sse(response);
    // Nothing happens to the order: the first thing on the wire is a
    // heartbeat, a comment that SSE clients ignore.
    let first = within("a heartbeat", events.next()).await;
    assert_eq!(first.as_deref(), Some(": keep-alive"));
}

#[tokio::test]
async fn a_websocket_client_that_answers_pings_stays_and_sees_them() {
    let gateway = gateway().await;
    let url = format!("ws://{}/grpc/v1/orders/updates", gateway.gateway.addr);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    // tungstenite answers each ping while reading; several pings in a row
    // mean the socket outlived more than one pong timeout.
    for _ in 0..3 {
        match within("a ping", socket.next()).await {
            Some(Ok(Message::Ping(_))) => {}
            other => panic!("expected a ping, got {other:?}"),
        }
    }
}

/// Reads the raw socket under a WebSocket, so nothing answers the pings,
/// and checks that a ping came, then a close frame 1001 "ping timeout".
async fn assert_closed_for_ping_timeout(
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) {
    let mut stream = match socket.into_inner() {
        tokio_tungstenite::MaybeTlsStream::Plain(stream) => stream,
        _ => unreachable!("plain ws://"),
    };
    let received = read_until_closed(&mut stream).await;
    // A ping frame (0x89), then a close frame (0x88) with 1001 "ping timeout".
    assert_eq!(received.first(), Some(&0x89), "{received:?}");
    let close = received
        .iter()
        .position(|b| *b == 0x88)
        .expect("a close frame");
    assert_eq!(&received[close + 2..close + 4], &1001u16.to_be_bytes());
    assert_eq!(&received[close + 4..], b"ping timeout");
}

#[tokio::test]
async fn a_grpc_websocket_client_that_never_answers_pings_is_closed_with_1001() {
    let gateway = gateway().await;
    let url = format!("ws://{}/grpc/v1/orders/updates", gateway.gateway.addr);
    let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_closed_for_ping_timeout(socket).await;
}

#[tokio::test]
async fn a_graphql_websocket_client_that_never_answers_pings_is_closed_with_1001() {
    let fed = tests::federation::FederatedGateway::start(&format!(
        "server:\n  streams: {{ websocket_ping_interval: 100ms, websocket_pong_timeout: 200ms }}\n{}",
        tests::federation::SUPERGRAPH_FILE_CONFIG
    ))
    .await;
    let (socket, _) = fed.connect_graphql_ws().await;
    assert_closed_for_ping_timeout(socket).await;
}

/// A backend that opens an event stream, sends one event, then stays
/// quiet (holding the socket open).
async fn quiet_sse_backend() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
                let event = "data: 1\n\n";
                let first = format!("{head}{:x}\r\n{event}\r\n", event.len());
                let _ = stream.write_all(first.as_bytes()).await;
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_quiet_proxied_event_stream_gets_heartbeats_between_events() {
    let backend = quiet_sse_backend().await;
    let gateway = TestGateway::start(&format!(
        r#"
server:
  streams: {{ sse_heartbeat: 100ms }}
backends:
  events: {{ url: "http://{backend}" }}
routes:
  - path: /events
    backend: events
    body_idle_timeout: 30s
"#
    ))
    .await;
    let response = gateway
        .client
        .get(gateway.url("/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut events = StreamReader::sse(response);
    assert_eq!(
        within("the event", events.next()).await.as_deref(),
        Some("data: 1")
    );
    assert_eq!(
        within("a heartbeat", events.next()).await.as_deref(),
        Some(": keep-alive")
    );
}
