//! Bidirectional streaming over WebSocket: one JSON message per text
//! frame in each direction.
//!
//! The handler answers the upgrade (101), then a task bridges the socket
//! and the gRPC call. Both directions are bounded: a frame is read from
//! the client only when the previous message was handed to the upstream
//! stream, and an upstream message is read only when the previous one was
//! written to the socket. The call's end becomes a close frame: 1000 for
//! OK, `4000 + grpc code` for a gRPC error, 1007 for a frame that is not a
//! valid message, 1003 for a binary frame, 1014 when the backend cannot be
//! reached, 1001 when the gateway shuts down (the call is cancelled) or
//! when the client stops answering pings ([`crate::ws_keepalive`]). A
//! client that disconnects resets the upstream stream. The upstream call
//! has no body idle timeout unless the route sets `body_idle_timeout`.
//!
//! A client that ends its side with a Close frame gets the WebSocket
//! closing handshake's echo of its own frame at once (RFC 6455 forbids
//! data after a Close): the upstream stream is half-closed and ends with
//! it; replies the backend sends after that are not delivered.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use http::{Request, Response};
use http_body::Frame;
use http_body_util::StreamBody;
use prost_reflect::MessageDescriptor;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::call::{self, grpc_request};
use super::error::GrpcError;
use super::route::{GrpcRoute, Transcoding};
use super::transcode::{self, JsonOptions};
use super::{framing, ws_close};
use crate::body::{self, BoxError, GatewayBody};
use crate::config::model::StreamSettings;
use crate::context::RequestContext;
use crate::drain::Drain;
use crate::upstream::UpstreamPool;
use crate::websocket::{self, ServerSocket as Socket};
use crate::ws_keepalive::{Heard, Keepalive, WsKeepalive};

type FrameSender = mpsc::Sender<Result<Frame<Bytes>, BoxError>>;

/// Answers a WebSocket upgrade and bridges it to the bidirectional call.
pub async fn bidirectional(
    mut request: Request<GatewayBody>,
    ctx: RequestContext,
    route: &GrpcRoute,
    transcoding: &Transcoding,
) -> Result<Response<GatewayBody>, GrpcError> {
    let handshake = websocket::check(&request, None).map_err(|error| {
        GrpcError::bad_request(
            "WEBSOCKET_REQUIRED",
            format!("this route streams both ways over WebSocket: {error}"),
        )
    })?;
    let pool = Arc::clone(&route.pool);
    let (sender, receiver) = mpsc::channel(8);
    let upstream_body = body::boxed(StreamBody::new(ReceiverStream::new(receiver)));
    let upstream = grpc_request(
        &transcoding.grpc_path,
        request.headers(),
        request.uri(),
        &route.metadata,
        &ctx,
        ctx.route.timeout,
        upstream_body,
    )?;
    let bridge = Bridge {
        pool,
        timeout: ctx.timeout_or(route.backend.request_timeout),
        body_idle: ctx.route.body_idle_timeout,
        streams: ctx.snapshot.config.server.streams,
        input: transcoding.method.input(),
        output: transcoding.method.output(),
        json: transcoding.json,
        drain: crate::drain::current(),
    };
    let guard = bridge.drain.track_stream();
    Ok(websocket::accept(
        &mut request,
        handshake,
        move |socket| async move {
            let _open = guard;
            bridge.run(socket, upstream, sender).await;
        },
    ))
}

/// What the bridging task needs.
struct Bridge {
    pool: Arc<UpstreamPool>,
    timeout: Duration,
    /// The route's own body idle timeout; none by default for a stream.
    body_idle: Option<Duration>,
    streams: StreamSettings,
    input: MessageDescriptor,
    output: MessageDescriptor,
    json: JsonOptions,
    drain: Drain,
}

impl Bridge {
    async fn run(self, socket: Socket, upstream: Request<GatewayBody>, sender: FrameSender) {
        let (mut sink, source) = socket.split();
        let keepalive = WsKeepalive::new(&self.streams);
        let close = {
            let uplink = uplink(
                source,
                sender,
                self.input.clone(),
                self.json,
                keepalive.heard(),
            );
            let downlink = self.downlink(upstream, &mut sink, keepalive);
            tokio::pin!(uplink, downlink);
            tokio::select! {
                up = &mut uplink => match up {
                    Uplink::Closed => Some(downlink.await),
                    Uplink::Invalid(close) => Some(close),
                    Uplink::Gone => None,
                },
                down = &mut downlink => Some(down),
                () = self.drain.started() => Some(ws_close::going_away()),
            }
        };
        if let Some(close) = close {
            let _ = sink.send(Message::Close(Some(close))).await;
            let _ = sink.close().await;
        }
    }

    /// Upstream messages to the socket; returns the close frame.
    async fn downlink(
        &self,
        upstream: Request<GatewayBody>,
        sink: &mut SplitSink<Socket, Message>,
        mut keepalive: WsKeepalive,
    ) -> CloseFrame {
        let started = call::start_stream(&self.pool, upstream, self.timeout, self.body_idle);
        let mut messages = match started.await {
            Ok(messages) => messages,
            Err(error) => return ws_close::for_error(&error),
        };
        loop {
            let next = tokio::select! {
                next = messages.next_message() => next,
                due = keepalive.due() => match due {
                    Keepalive::Ping => {
                        if sink.send(Message::Ping(Bytes::new())).await.is_err() {
                            return ws_close::normal();
                        }
                        continue;
                    }
                    Keepalive::GiveUp => return ws_close::ping_timeout(),
                },
            };
            let payload = match next {
                Ok(Some(payload)) => payload,
                Ok(None) => return ws_close::normal(),
                Err(error) => return ws_close::for_error(&error),
            };
            let json = match transcode::json_from_protobuf(&self.output, payload) {
                Ok(json) => json,
                Err(error) => return ws_close::for_error(&error.into()),
            };
            let text = Utf8Bytes::try_from(json).unwrap_or_default();
            if sink.send(Message::Text(text)).await.is_err() {
                return ws_close::normal();
            }
        }
    }
}

/// How the client's side ended.
enum Uplink {
    /// The client sent Close: the upstream stream is half-closed cleanly.
    Closed,
    /// A bad frame: the upstream stream was reset.
    Invalid(CloseFrame),
    /// The connection dropped: everything is torn down.
    Gone,
}

/// Socket frames to upstream messages.
async fn uplink(
    mut source: SplitStream<Socket>,
    sender: FrameSender,
    input: MessageDescriptor,
    json: JsonOptions,
    heard: Heard,
) -> Uplink {
    while let Some(frame) = source.next().await {
        heard.now();
        let text = match frame {
            Ok(Message::Text(text)) => text,
            Ok(Message::Binary(_)) => return invalid(&sender, ws_close::binary_refused()).await,
            Ok(Message::Close(_)) => return Uplink::Closed,
            Ok(_) => continue,
            Err(_) => return Uplink::Gone,
        };
        let message = match transcode::message_from_json(&input, text.as_bytes(), json) {
            Ok(message) => message,
            Err(error) => return invalid(&sender, ws_close::invalid_message(&error)).await,
        };
        if sender
            .send(Ok(Frame::data(framing::encode(&transcode::encode(
                &message,
            )))))
            .await
            .is_err()
        {
            return Uplink::Closed;
        }
    }
    Uplink::Gone
}

async fn invalid(sender: &FrameSender, close: CloseFrame) -> Uplink {
    let _ = sender
        .send(Err("the client sent an invalid message".into()))
        .await;
    Uplink::Invalid(close)
}
