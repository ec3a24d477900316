//! Sending one rendered call through the backend's [`UpstreamPool`] and
//! decoding its answer into a JSON value.
//!
//! The call's timeout covers everything: waiting for a connection slot,
//! the response head and the whole body. Dropping the future (deadline,
//! client gone, coalesced callers all gone) cancels the upstream request.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::CACHE_CONTROL;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use prost_reflect::MessageDescriptor;
use serde_json::Value;

use super::error::{CallFailure, FailureKind};
use super::request::{Decode, RenderedCall};
use crate::body;
use crate::grpc::{self, GrpcError, transcode};
use crate::template::eval::walk;
use crate::upstream::UpstreamPool;
use crate::upstream::outbound::Outbound;
use crate::upstream::retry::{CallRetry, Idempotent};

/// The most bytes of a call's response body the gateway reads.
pub const MAX_CALL_BODY: usize = 16 * 1024 * 1024;

/// A call's decoded value, with what the cache needs to know.
#[derive(Debug, Clone)]
pub struct CallOutput {
    pub value: Arc<Value>,
    /// The backend's `Cache-Control`, if any.
    pub cache_control: Option<String>,
}

/// Sends `call` to `pool` and decodes the answer, all within `timeout`.
pub async fn fetch(
    pool: Arc<UpstreamPool>,
    call: RenderedCall,
    timeout: Duration,
    outbound: Arc<Outbound>,
) -> Result<CallOutput, CallFailure> {
    let sending = send_and_decode(&pool, call, timeout, &outbound);
    match tokio::time::timeout(timeout, sending).await {
        Ok(result) => result,
        Err(_) => Err(CallFailure::new(
            FailureKind::Timeout,
            format!("the upstream service did not answer within {timeout:?}"),
        )),
    }
}

async fn send_and_decode(
    pool: &UpstreamPool,
    call: RenderedCall,
    timeout: Duration,
    outbound: &Outbound,
) -> Result<CallOutput, CallFailure> {
    let backend = &pool.spec().name;
    let mut request = Request::new(body::full(call.body));
    *request.method_mut() = call.method;
    *request.uri_mut() = call.uri;
    *request.headers_mut() = call.headers;
    outbound.finish(&mut request);
    if let Some(policy) = call.retry {
        request.extensions_mut().insert(CallRetry(policy));
    }
    if call.idempotent {
        request.extensions_mut().insert(Idempotent);
    }
    if let Decode::Grpc { output } = &call.decode {
        return grpc_reply(pool, request, output, timeout).await;
    }
    let response = pool.send(request, timeout).await?;
    let (parts, incoming) = response.into_parts();
    let bytes = read_body(incoming, backend).await?;
    if !parts.status.is_success() {
        return Err(status_failure(parts.status, &bytes));
    }
    let cache_control = parts
        .headers
        .get(CACHE_CONTROL)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let value = decode(&bytes, &call.decode)?;
    Ok(CallOutput {
        value: Arc::new(value),
        cache_control,
    })
}

async fn read_body(mut incoming: body::GatewayBody, backend: &str) -> Result<Bytes, CallFailure> {
    let mut collected = BytesMut::new();
    while let Some(frame) = incoming.frame().await {
        let frame = frame.map_err(|error| {
            CallFailure::new(FailureKind::Unavailable, {
                tracing::warn!(%error, backend, "reading a composition response failed");
                "reading the upstream response failed".to_owned()
            })
        })?;
        if let Ok(data) = frame.into_data() {
            if collected.len() + data.len() > MAX_CALL_BODY {
                let message =
                    format!("the upstream service sent a body larger than {MAX_CALL_BODY} bytes");
                return Err(CallFailure::new(FailureKind::BadResponse, message));
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(collected.freeze())
}

/// The one reply of a unary gRPC call, as proto3 JSON.
async fn grpc_reply(
    pool: &UpstreamPool,
    request: Request<body::GatewayBody>,
    output: &MessageDescriptor,
    timeout: Duration,
) -> Result<CallOutput, CallFailure> {
    let backend = &pool.spec().name;
    let failed = |error: GrpcError| grpc_failure(backend, error);
    let mut messages = grpc::call::start(pool, request, timeout)
        .await
        .map_err(failed)?;
    let reply = messages.next_message().await.map_err(failed)?;
    let reply = reply.ok_or_else(|| {
        failed(GrpcError::BadResponse(
            "the call ended without a reply".into(),
        ))
    })?;
    if messages.next_message().await.map_err(failed)?.is_some() {
        return Err(failed(GrpcError::BadResponse(
            "the call returned more than one reply".into(),
        )));
    }
    let json =
        transcode::json_from_protobuf(output, reply).map_err(|error| failed(error.into()))?;
    let value = decode(&json, &Decode::Json)?;
    Ok(CallOutput {
        value: Arc::new(value),
        cache_control: None,
    })
}

/// A gRPC status keeps its HTTP equivalent (NOT_FOUND is 404, ...).
fn grpc_failure(backend: &str, error: GrpcError) -> CallFailure {
    match error {
        GrpcError::Upstream(upstream) => upstream.into(),
        GrpcError::Status(_) => {
            let message = format!("the upstream service answered {}: {error}", error.code());
            CallFailure::new(FailureKind::Status(error.http_status()), message)
        }
        other => {
            tracing::warn!(error = %other, backend, "composition gRPC call failed");
            CallFailure::new(FailureKind::BadResponse, other.public_message())
        }
    }
}

/// A non-2xx answer; the backend's own `error.message` is kept if present.
fn status_failure(status: StatusCode, body: &[u8]) -> CallFailure {
    let detail = serde_json::from_slice::<Value>(body).ok().and_then(|json| {
        json.pointer("/error/message")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let message = match detail {
        Some(detail) => format!("the upstream service answered {status}: {detail}"),
        None => format!("the upstream service answered {status}"),
    };
    CallFailure::new(FailureKind::Status(status), message)
}

fn decode(bytes: &[u8], decode: &Decode) -> Result<Value, CallFailure> {
    let json: Value = serde_json::from_slice(bytes).map_err(|error| {
        CallFailure::new(
            FailureKind::BadResponse,
            format!("the upstream service sent a body that is not JSON: {error}"),
        )
    })?;
    match decode {
        Decode::GraphQl { data_path } => graphql_data(json, data_path),
        Decode::Json | Decode::Grpc { .. } => Ok(json),
    }
}

/// `errors` (non-empty) fail the call; otherwise `data` at the path.
pub fn graphql_data(
    mut json: Value,
    data_path: &[super::template::Segment],
) -> Result<Value, CallFailure> {
    if let Some(errors) = json
        .get("errors")
        .and_then(Value::as_array)
        .filter(|errors| !errors.is_empty())
    {
        let messages: Vec<&str> = errors
            .iter()
            .filter_map(|error| error.get("message").and_then(Value::as_str))
            .collect();
        return Err(CallFailure::graphql(format!(
            "the upstream service returned GraphQL errors: {}",
            messages.join("; ")
        )));
    }
    let data = json.get_mut("data").map(Value::take).unwrap_or(Value::Null);
    Ok(walk(&data, data_path).unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::template::Segment;

    #[test]
    fn graphql_errors_fail_the_call_and_data_is_extracted_by_path() {
        let path = [Segment::Field("order".into())];
        let ok = graphql_data(json!({"data": {"order": {"id": "1"}}}), &path).unwrap();
        assert_eq!(ok, json!({"id": "1"}));
        let failed = graphql_data(
            json!({"data": null, "errors": [{"message": "boom"}]}),
            &path,
        )
        .unwrap_err();
        assert_eq!(failed.code, "UPSTREAM_GRAPHQL_ERRORS");
        assert!(failed.message.contains("boom"));
    }

    #[test]
    fn status_failures_keep_the_backends_message() {
        let failure = status_failure(
            StatusCode::NOT_FOUND,
            br#"{"error":{"code":"X","message":"order 1 not found"}}"#,
        );
        assert_eq!(failure.kind, FailureKind::Status(StatusCode::NOT_FOUND));
        assert!(
            failure.message.contains("order 1 not found"),
            "{}",
            failure.message
        );
        assert!(!failure.message.contains("orders"), "{}", failure.message);
    }
}
