//! The gateway as a graphql-transport-ws client of a subgraph: connect,
//! `connection_init`, wait for `connection_ack`, `subscribe`, then yield
//! every `next` payload until `complete`, an `error` or the socket closes.

use futures::SinkExt;
use futures::stream::{BoxStream, StreamExt};
use serde_json::{Map, Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::graphql::error::GraphqlError;

/// How long the subgraph may take to accept the WebSocket.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// One event from the subgraph: its data and its error messages.
#[derive(Debug)]
pub(super) struct Event {
    pub data: Option<Value>,
    pub errors: Vec<String>,
}

/// Opens the subscription `query` at the subgraph whose HTTP URL is `url`.
pub(super) async fn subscribe(
    url: &str,
    query: &str,
    variables: Map<String, Value>,
) -> Result<BoxStream<'static, Result<Event, GraphqlError>>, String> {
    let ws_url = url.replacen("http://", "ws://", 1);
    let mut request = ws_url.into_client_request().map_err(|e| e.to_string())?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let connect = tokio_tungstenite::connect_async(request);
    let (mut socket, _) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| format!("no WebSocket handshake within {CONNECT_TIMEOUT:?}"))?
        .map_err(|e| e.to_string())?;
    socket
        .send(Message::text(
            json!({ "type": "connection_init" }).to_string(),
        ))
        .await
        .map_err(|e| e.to_string())?;
    wait_for_ack(&mut socket).await?;
    let subscribe = json!({ "type": "subscribe", "id": "1", "payload": { "query": query, "variables": variables } });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .map_err(|e| e.to_string())?;
    Ok(futures::stream::unfold(Some(socket), next_event).boxed())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn wait_for_ack(socket: &mut Socket) -> Result<(), String> {
    while let Some(message) = socket.next().await {
        let message = message.map_err(|e| e.to_string())?;
        if let Some(parsed) = as_json(&message) {
            match parsed["type"].as_str() {
                Some("connection_ack") => return Ok(()),
                Some("ping") => {
                    let _ = socket.send(Message::text(r#"{"type":"pong"}"#)).await;
                }
                _ => {}
            }
        }
    }
    Err("the subgraph closed the socket before acknowledging".to_owned())
}

async fn next_event(
    socket: Option<Socket>,
) -> Option<(Result<Event, GraphqlError>, Option<Socket>)> {
    let mut socket = socket?;
    while let Some(message) = socket.next().await {
        let Ok(message) = message else { break };
        let Some(parsed) = as_json(&message) else {
            continue;
        };
        match parsed["type"].as_str() {
            Some("next") => {
                let payload = &parsed["payload"];
                let errors = payload["errors"]
                    .as_array()
                    .map(|list| {
                        list.iter()
                            .map(|e| e["message"].as_str().unwrap_or("").to_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                let event = Event {
                    data: payload.get("data").cloned().filter(|d| !d.is_null()),
                    errors,
                };
                return Some((Ok(event), Some(socket)));
            }
            Some("ping") => {
                let _ = socket.send(Message::text(r#"{"type":"pong"}"#)).await;
            }
            Some("error") => {
                let error = GraphqlError::new(
                    "SUBGRAPH_SUBSCRIPTION_FAILED",
                    "the subgraph rejected the subscription",
                );
                return Some((Err(error), None));
            }
            Some("complete") => return None,
            _ => {}
        }
    }
    None
}

fn as_json(message: &Message) -> Option<Value> {
    match message {
        Message::Text(text) => serde_json::from_str(text.as_str()).ok(),
        _ => None,
    }
}
