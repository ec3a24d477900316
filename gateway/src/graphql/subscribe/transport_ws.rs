//! The graphql-transport-ws protocol on the GraphQL endpoint: the
//! WebSocket handshake (subprotocol `graphql-transport-ws`), then
//! `connection_init` → `connection_ack`, and any number of `subscribe`
//! operations, each answered with `next` messages and a `complete` (or an
//! `error`); the client's `complete` cancels one. Queries and mutations
//! sent this way get a single `next`. Closing is a handshake both ways: a
//! client's close frame is echoed before the connection ends, and after a
//! server close (a protocol violation's 44xx code) the client's reply is
//! awaited. When the gateway starts to drain, every running operation gets
//! a `complete` and the socket a close 1001.

use std::collections::HashMap;
use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use http::{Request, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use crate::body::GatewayBody;
use crate::context::{Principal, RequestContext};
use crate::drain::Drain;
use crate::graphql::error::RequestError;
use crate::graphql::execute::ExecutionOptions;
use crate::graphql::handler::run;
use crate::graphql::prepare::prepare;
use crate::graphql::request::GraphqlRequest;
use crate::graphql::service::GraphqlService;
use crate::websocket::{self, ServerSocket};
use crate::ws_keepalive::{Keepalive, PING_TIMEOUT_CODE, PING_TIMEOUT_REASON, WsKeepalive};
use hive_router_query_planner::state::supergraph_state::OperationKind;

const PROTOCOL: &str = "graphql-transport-ws";

/// How long the server waits for the client's reply to its close frame.
const CLOSE_REPLY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Answers the handshake and serves the socket in a task; a request that
/// is not a valid graphql-transport-ws handshake gets a GraphQL error.
pub fn accept(mut request: Request<GatewayBody>, ctx: RequestContext) -> Response<GatewayBody> {
    let reject = |error: RequestError| {
        error
            .into_gateway_error("application/json")
            .into_response(ctx.request_id.as_str())
    };
    let handshake = match websocket::check(&request, Some(PROTOCOL)) {
        Ok(handshake) => handshake,
        Err(error) => return reject(RequestError::BadRequest(error.to_string())),
    };
    let Some(service) = ctx.snapshot.graphql.clone() else {
        return reject(RequestError::NotReady);
    };
    let drain = crate::drain::current();
    let guard = drain.track_stream();
    let principal = request.extensions().get::<Principal>().cloned();
    websocket::accept(&mut request, handshake, move |socket| async move {
        let _open = guard;
        serve(socket, (service, principal), ctx, drain).await;
    })
}

/// What a session needs to start operations.
struct Session {
    service: Arc<GraphqlService>,
    /// Who opened the socket (every operation on it runs as them).
    principal: Option<Principal>,
    ctx: RequestContext,
    outgoing: mpsc::Sender<Message>,
    running: HashMap<String, AbortHandle>,
    acknowledged: bool,
}

async fn serve(
    socket: ServerSocket,
    (service, principal): (Arc<GraphqlService>, Option<Principal>),
    ctx: RequestContext,
    drain: Drain,
) {
    let (mut sink, mut incoming) = socket.split();
    let (outgoing, mut queue) = mpsc::channel::<Message>(64);
    let draining = drain.started();
    tokio::pin!(draining);
    let mut keepalive = WsKeepalive::new(&ctx.snapshot.config.server.streams);
    let heard = keepalive.heard();
    let mut session = Session {
        service,
        principal,
        ctx,
        outgoing,
        running: HashMap::new(),
        acknowledged: false,
    };
    loop {
        tokio::select! {
            message = incoming.next() => {
                let Some(Ok(message)) = message else { break };
                heard.now();
                if let Message::Close(_) = message {
                    // tungstenite has queued the echo of the client's close
                    // frame; flushing sends it and completes the handshake.
                    let _ = sink.flush().await;
                    break;
                }
                if let Some(close) = session.on_message(message) {
                    let _ = sink.send(close).await;
                    await_close_reply(&mut incoming).await;
                    break;
                }
            }
            Some(message) = queue.recv() => {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
            () = &mut draining => {
                session.going_away(&mut sink, &mut queue).await;
                break;
            }
            due = keepalive.due() => {
                let message = match due {
                    Keepalive::Ping => Message::Ping(Default::default()),
                    Keepalive::GiveUp => close(PING_TIMEOUT_CODE, PING_TIMEOUT_REASON),
                };
                if sink.send(message).await.is_err() || due == Keepalive::GiveUp {
                    break;
                }
            }
        }
    }
    session.running.values().for_each(AbortHandle::abort);
}

type Sink = futures::stream::SplitSink<ServerSocket, Message>;
/// After the server's close frame: reads until the client's reply ends the
/// stream (bounded), so the connection closes with a handshake.
async fn await_close_reply(incoming: &mut futures::stream::SplitStream<ServerSocket>) {
    let drain = async { while let Some(Ok(_)) = incoming.next().await {} };
    let _ = tokio::time::timeout(CLOSE_REPLY_WAIT, drain).await;
}

fn text(value: Value) -> Message {
    Message::text(value.to_string())
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code: code.into(),
        reason: reason.into(),
    }))
}

impl Session {
    /// The drain: what is already queued, `complete` for every operation
    /// still running, then close 1001.
    async fn going_away(&mut self, sink: &mut Sink, queue: &mut mpsc::Receiver<Message>) {
        let mut unfinished = Vec::new();
        for (id, handle) in self.running.drain() {
            if !handle.is_finished() {
                unfinished.push(id);
            }
            handle.abort();
        }
        while let Ok(message) = queue.try_recv() {
            let _ = sink.send(message).await;
        }
        for id in unfinished {
            let _ = sink
                .send(text(json!({ "type": "complete", "id": id })))
                .await;
        }
        let _ = sink.send(close(1001, "the gateway is shutting down")).await;
    }

    /// Handles one client message; returns a close frame to end the session.
    fn on_message(&mut self, message: Message) -> Option<Message> {
        let parsed: Value = match &message {
            Message::Text(text) => serde_json::from_str(text.as_str()).ok()?,
            _ => return None,
        };
        match parsed["type"].as_str() {
            Some("connection_init") if self.acknowledged => {
                Some(close(4429, "Too many initialisation requests"))
            }
            Some("connection_init") => {
                self.acknowledged = true;
                let _ = self
                    .outgoing
                    .try_send(text(json!({ "type": "connection_ack" })));
                None
            }
            Some("ping") => {
                let _ = self.outgoing.try_send(text(json!({ "type": "pong" })));
                None
            }
            Some("pong") => None,
            Some("subscribe") if !self.acknowledged => Some(close(4401, "Unauthorized")),
            Some("subscribe") => self.subscribe(&parsed),
            Some("complete") => {
                if let Some(handle) = parsed["id"].as_str().and_then(|id| self.running.remove(id)) {
                    handle.abort();
                }
                None
            }
            _ => Some(close(4400, "Invalid message")),
        }
    }

    fn subscribe(&mut self, message: &Value) -> Option<Message> {
        let id = message["id"].as_str()?.to_owned();
        if self.running.get(&id).is_some_and(|h| !h.is_finished()) {
            return Some(close(4409, "Subscriber already exists"));
        }
        let Ok(mut request) = serde_json::from_value::<GraphqlRequest>(message["payload"].clone())
        else {
            return Some(close(4400, "Invalid subscribe payload"));
        };
        request.principal = self.principal.clone();
        let task = tokio::spawn(tracing::Instrument::in_current_span(run_operation(
            id.clone(),
            request,
            Arc::clone(&self.service),
            self.ctx.clone(),
            self.outgoing.clone(),
        )));
        self.running.insert(id, task.abort_handle());
        None
    }
}

async fn run_operation(
    id: String,
    request: GraphqlRequest,
    service: Arc<GraphqlService>,
    ctx: RequestContext,
    out: mpsc::Sender<Message>,
) {
    let result = stream_operation(&id, request, &service, &ctx, &out).await;
    let last = match result {
        Ok(()) => json!({ "type": "complete", "id": id }),
        Err(error) => {
            crate::graphql::metrics::request_error(&ctx, &error);
            let payload = error.graphql_errors();
            json!({ "type": "error", "id": id, "payload": payload })
        }
    };
    let _ = out.send(text(last)).await;
}

async fn stream_operation(
    id: &str,
    mut request: GraphqlRequest,
    service: &GraphqlService,
    ctx: &RequestContext,
    out: &mpsc::Sender<Message>,
) -> Result<(), RequestError> {
    let supergraph = service.current().ok_or(RequestError::NotReady)?;
    service.persisted.resolve(&mut request)?;
    let prepared = prepare(service, &supergraph, &request).await?;
    crate::graphql::metrics::operation(ctx, &prepared);
    if prepared.kind != OperationKind::Subscription {
        let (data, errors) = run(&supergraph, &prepared, &service.settings, ctx).await?;
        let payload = if errors.is_empty() {
            json!({ "data": data })
        } else {
            json!({ "data": data, "errors": errors })
        };
        let _ = out
            .send(text(
                json!({ "type": "next", "id": id, "payload": payload }),
            ))
            .await;
        return Ok(());
    }
    let options = ExecutionOptions::for_request(&service.settings, ctx);
    let mut events =
        crate::graphql::subscribe::start(supergraph, Arc::new(prepared), options).await?;
    while let Some(payload) = events.next().await {
        if out
            .send(text(
                json!({ "type": "next", "id": id, "payload": payload }),
            ))
            .await
            .is_err()
        {
            break;
        }
    }
    Ok(())
}
