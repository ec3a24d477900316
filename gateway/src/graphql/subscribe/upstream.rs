//! The gateway as a graphql-transport-ws client of a subgraph: the
//! WebSocket is opened through the subgraph's [`UpstreamPool`] (its
//! balancer, connection limit and ejection; the socket counts in flight
//! while open) with the headers of the upstream-request builder, then
//! `connection_init`, wait for `connection_ack`, `subscribe`, and every
//! `next` payload is yielded until `complete`, an `error` or the socket
//! closes.

use futures::SinkExt;
use futures::stream::{BoxStream, StreamExt};
use http::header::{
    CONNECTION, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL,
    SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{Method, Request};
use serde_json::{Map, Value, json};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::graphql::error::GraphqlError;
use crate::graphql::execute::ExecutionOptions;
use crate::graphql::supergraph::SubgraphClient;
use crate::upstream::UpgradedConnection;

/// One event from the subgraph: its data and its error messages.
#[derive(Debug)]
pub(super) struct Event {
    pub data: Option<Value>,
    pub errors: Vec<String>,
}

/// Opens the subscription `query` at the subgraph `client`; the
/// handshake (connection slot, upgrade, `connection_ack`) is bounded by
/// the subgraph's request timeout.
pub(super) async fn subscribe(
    client: &SubgraphClient,
    options: &ExecutionOptions,
    query: &str,
    variables: Map<String, Value>,
) -> Result<BoxStream<'static, Result<Event, GraphqlError>>, String> {
    let handshake = async {
        let mut socket = open_socket(client, options).await?;
        socket
            .send(Message::text(
                json!({ "type": "connection_init" }).to_string(),
            ))
            .await
            .map_err(|e| e.to_string())?;
        wait_for_ack(&mut socket).await?;
        Ok::<_, String>(socket)
    };
    let mut socket = tokio::time::timeout(client.timeout, handshake)
        .await
        .map_err(|_| format!("no subscription handshake within {:?}", client.timeout))??;
    let subscribe = json!({ "type": "subscribe", "id": "1", "payload": { "query": query, "variables": variables } });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .map_err(|e| e.to_string())?;
    Ok(futures::stream::unfold(Some(socket), next_event).boxed())
}

/// The WebSocket handshake through the subgraph's pool.
async fn open_socket(
    client: &SubgraphClient,
    options: &ExecutionOptions,
) -> Result<Socket, String> {
    let key = tokio_tungstenite::tungstenite::handshake::client::generate_key();
    let mut request = Request::new(());
    *request.method_mut() = Method::GET;
    *request.uri_mut() = client.path.clone().into();
    if let Some(outbound) = options.outbound.as_deref() {
        *request.headers_mut() = outbound.propagated(&options.propagate.for_subgraph(&client.name));
    }
    let headers = request.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
    headers.insert(
        SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static("graphql-transport-ws"),
    );
    headers.insert(
        SEC_WEBSOCKET_KEY,
        HeaderValue::from_str(&key).map_err(|e| e.to_string())?,
    );
    if let Some(outbound) = options.outbound.as_deref() {
        outbound.finish(&mut request);
    }
    let (response, connection) = client
        .pool
        .upgrade(request, client.timeout)
        .await
        .map_err(|e| e.to_string())?;
    let accepted = response
        .headers()
        .get(SEC_WEBSOCKET_ACCEPT)
        .is_some_and(|value| value.as_bytes() == derive_accept_key(key.as_bytes()).as_bytes());
    if !accepted {
        return Err("the subgraph's WebSocket handshake has a wrong Sec-WebSocket-Accept".into());
    }
    Ok(WebSocketStream::from_raw_socket(connection, Role::Client, None).await)
}

type Socket = WebSocketStream<UpgradedConnection>;

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
