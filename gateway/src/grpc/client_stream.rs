//! Client streaming: a body of many JSON messages, one JSON reply.
//!
//! The first message is parsed before the call starts, so a body that is
//! bad from the start never reaches the backend. After that, NDJSON lines
//! are forwarded one by one while the body is still arriving (bounded
//! channel: a slow backend slows the reader). A bad line later on aborts
//! the upstream stream with a reset, so the backend sees a cancelled call,
//! never a short but clean one, and the client gets 400 naming the line.

use bytes::Bytes;
use http::{Request, Response};
use http_body::Frame;
use http_body_util::StreamBody;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::call::{self, grpc_request};
use super::error::GrpcError;
use super::json_input::JsonMessages;
use super::route::{GrpcRoute, Transcoding};
use super::unary::single_reply;
use super::{framing, transcode};
use crate::body::{self, BoxError, GatewayBody};
use crate::context::RequestContext;

type FrameSender = mpsc::Sender<Result<Frame<Bytes>, BoxError>>;

/// Transcodes a client-streaming call.
pub async fn client_streaming(
    request: Request<GatewayBody>,
    ctx: RequestContext,
    route: &GrpcRoute,
    transcoding: &Transcoding,
) -> Result<Response<GatewayBody>, GrpcError> {
    let pool = std::sync::Arc::clone(&route.pool);
    let (parts, body) = request.into_parts();
    let mut input = JsonMessages::open(
        &parts.headers,
        body,
        transcoding.method.input(),
        transcoding.json,
    )
    .await?;
    let first = input.next().await?;
    let (sender, receiver) = mpsc::channel(8);
    let upstream_body = body::boxed(StreamBody::new(ReceiverStream::new(receiver)));
    let timeout = ctx.timeout_or(pool.spec().request_timeout);
    let upstream = grpc_request(
        &transcoding.grpc_path,
        &parts.headers,
        &parts.uri,
        &route.metadata,
        &ctx,
        Some(timeout),
        upstream_body,
    )?;
    // The route's `body_idle_timeout` applies, else the backend's.
    let body_idle = ctx.body_idle_or(pool.spec().body_idle_timeout);
    let call = call::start_stream(&pool, upstream, timeout, Some(body_idle));
    let pump = forward_messages(first, input, sender);
    tokio::pin!(call, pump);
    let mut messages = tokio::select! {
        started = &mut call => started?,
        pumped = &mut pump => {
            pumped?;
            call.await?
        }
    };
    single_reply(&mut messages, route, transcoding).await
}

/// Sends every message upstream; on a bad one, fails the upstream body so
/// the stream is reset rather than ended.
async fn forward_messages(
    first: Option<prost_reflect::DynamicMessage>,
    mut input: JsonMessages,
    sender: FrameSender,
) -> Result<(), GrpcError> {
    let mut next = first;
    while let Some(message) = next {
        let frame = Frame::data(framing::encode(&transcode::encode(&message)));
        if sender.send(Ok(frame)).await.is_err() {
            return Ok(()); // the call ended early; its response says why
        }
        next = match input.next().await {
            Ok(next) => next,
            Err(error) => {
                let _ = sender
                    .send(Err("the client's request stream was invalid".into()))
                    .await;
                return Err(error);
            }
        };
    }
    Ok(())
}
