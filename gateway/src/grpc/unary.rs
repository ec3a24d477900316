//! Unary calls: one JSON request, one JSON response.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::request::Parts;
use http::{Request, Response};
use http_body_util::BodyExt;
use prost_reflect::DynamicMessage;

use super::call::{self, MessageStream, grpc_request};
use super::error::GrpcError;
use super::framing;
use super::route::{GrpcRoute, Transcoding};
use super::transcode;
use crate::body::{self, BoxError, GatewayBody};
use crate::client_body::RequestBodyFault;
use crate::context::RequestContext;

/// Transcodes a unary call.
pub async fn unary(
    request: Request<GatewayBody>,
    ctx: RequestContext,
    route: &GrpcRoute,
    transcoding: &Transcoding,
) -> Result<Response<GatewayBody>, GrpcError> {
    let pool = std::sync::Arc::clone(&route.pool);
    let (parts, body) = request.into_parts();
    let message = request_message(&parts, body, &ctx, transcoding).await?;
    let timeout = ctx.timeout_or(pool.spec().request_timeout);
    let payload = body::full(framing::encode(&transcode::encode(&message)));
    let upstream = grpc_request(
        &transcoding.grpc_path,
        &parts.headers,
        &parts.uri,
        &route.metadata,
        &ctx,
        Some(timeout),
        payload,
    )?;
    // The route's `body_idle_timeout` applies, else the backend's.
    let body_idle = ctx.body_idle_or(pool.spec().body_idle_timeout);
    let mut messages = call::start_stream(&pool, upstream, timeout, Some(body_idle)).await?;
    single_reply(&mut messages, route, transcoding).await
}

/// Reads the one reply of a unary or client-streaming call as a JSON
/// response carrying the configured metadata.
pub(super) async fn single_reply(
    messages: &mut MessageStream,
    route: &GrpcRoute,
    transcoding: &Transcoding,
) -> Result<Response<GatewayBody>, GrpcError> {
    let reply = messages
        .next_message()
        .await?
        .ok_or_else(|| GrpcError::BadResponse("the call ended without a reply".into()))?;
    if messages.next_message().await?.is_some() {
        return Err(GrpcError::BadResponse(
            "the call returned more than one reply".into(),
        ));
    }
    let json = transcode::json_from_protobuf(&transcoding.method.output(), reply)?;
    let mut response = json_response(json);
    messages.copy_metadata(&route.metadata, response.headers_mut());
    Ok(response)
}

/// Builds the request message from the body, path and query.
pub(super) async fn request_message(
    parts: &Parts,
    body: GatewayBody,
    ctx: &RequestContext,
    transcoding: &Transcoding,
) -> Result<DynamicMessage, GrpcError> {
    let bytes = read_body(body).await?;
    let param = |name: &str| ctx.params.decoded(name);
    let input = transcoding.method.input();
    Ok(transcoding
        .bindings
        .build(&input, &bytes, param, parts.uri.query(), transcoding.json)?)
}

/// Reads a whole (already size-limited) request body.
pub(super) async fn read_body(body: GatewayBody) -> Result<Bytes, GrpcError> {
    body.collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(client_body_error)
}

/// A failed client body read: over the limit (413), or broken (400).
pub(super) fn client_body_error(error: BoxError) -> GrpcError {
    match RequestBodyFault::find_boxed(&error) {
        Some(RequestBodyFault::TooLarge(too_large)) => GrpcError::BodyTooLarge(too_large),
        Some(RequestBodyFault::Malformed) | None => {
            tracing::debug!(error = %error, "reading the client's body failed");
            GrpcError::ClientBody
        }
    }
}

pub(super) fn json_response(json: Vec<u8>) -> Response<GatewayBody> {
    let mut response = Response::new(body::full(json));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
