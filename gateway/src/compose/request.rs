//! Turning a call's templates into a concrete upstream request.
//!
//! Rendering happens when the call starts, with the values of the calls it
//! depends on. A call carries the client headers its propagation rules
//! select, then its own templated headers on top; the gateway's own
//! headers (request id, forwarding, trace context) are added when it is
//! sent, by the upstream-request builder.

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, TE};
use http::{HeaderMap, HeaderValue, Method, Uri};
use prost_reflect::MessageDescriptor;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::error::{CallFailure, FailureKind};
use super::plan::{CallKind, CallSpec, GraphQlCall, GrpcCall, RestCall};
use crate::grpc::call::grpc_timeout;
use crate::grpc::{framing, transcode};
use crate::template::Segment;
use crate::template::eval::{Bindings, EvalError, Target};
use crate::template::value::Strictness;

/// How a call's response body becomes its value.
#[derive(Debug, Clone, PartialEq)]
pub enum Decode {
    /// The body is the value.
    Json,
    /// `{data, errors}`: errors fail the call, the value is `data` at the path.
    GraphQl { data_path: Vec<Segment> },
    /// One gRPC reply message of this type, as proto3 JSON.
    Grpc { output: MessageDescriptor },
}

/// A call ready to send.
#[derive(Debug, Clone)]
pub struct RenderedCall {
    pub method: Method,
    /// Origin form: path and query.
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub decode: Decode,
    /// The call's own `retry:` policy.
    pub retry: Option<std::sync::Arc<crate::config::model::RetryPolicy>>,
    /// A GraphQL query: retried like a GET although sent as POST.
    pub idempotent: bool,
}

impl RenderedCall {
    /// Identifies the upstream request for caching and coalescing: the
    /// backend, method, URI, body and headers (the propagated client
    /// headers and the templated ones; the gateway's per-request headers
    /// are not part of a call yet). Hashed, so no credential is kept in a
    /// key.
    pub fn key(&self, backend: &str) -> String {
        let mut hasher = Sha256::new();
        for part in [
            backend.as_bytes(),
            self.method.as_str().as_bytes(),
            self.uri.to_string().as_bytes(),
            &self.body,
        ] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        for (name, value) in &self.headers {
            for part in [name.as_str().as_bytes(), value.as_bytes()] {
                hasher.update((part.len() as u64).to_be_bytes());
                hasher.update(part);
            }
        }
        hex::encode(hasher.finalize())
    }
}

/// Method, path, body, content type and decoding of one call.
struct Prepared {
    method: Method,
    path: String,
    body: Option<(Bytes, &'static str)>,
    decode: Decode,
}

/// Renders `spec` with the values at hand. `propagated` holds the client
/// headers the call's propagation rules selected.
pub fn render_call(
    spec: &CallSpec,
    bindings: &Bindings<'_>,
    propagated: HeaderMap,
) -> Result<RenderedCall, CallFailure> {
    let prepared = match &spec.kind {
        CallKind::Rest(rest) => prepare_rest(rest, bindings)?,
        CallKind::GraphQl(call) => prepare_graphql(call, bindings)?,
        CallKind::Grpc(call) => prepare_grpc(call, bindings)?,
    };
    let Prepared {
        method,
        path,
        body,
        decode,
    } = prepared;
    let uri = Uri::try_from(path.as_str()).map_err(|error| {
        CallFailure::new(
            FailureKind::MissingInput,
            format!("rendered path \"{path}\" is not a valid URI: {error}"),
        )
    })?;
    let mut headers = render_headers(spec, bindings, propagated)?;
    let body = match body {
        Some((bytes, content_type)) => {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            bytes
        }
        None => Bytes::new(),
    };
    if matches!(decode, Decode::Grpc { .. }) {
        grpc_headers(&mut headers, spec.timeout);
    }
    Ok(RenderedCall {
        method,
        uri,
        headers,
        body,
        decode,
        retry: spec.retry.clone(),
        idempotent: spec.idempotent,
    })
}

/// `te: trailers` and the deadline as `grpc-timeout`; no `accept`.
fn grpc_headers(headers: &mut HeaderMap, timeout: std::time::Duration) {
    headers.insert(TE, HeaderValue::from_static("trailers"));
    headers.remove(ACCEPT);
    if let Ok(value) = HeaderValue::from_str(&grpc_timeout(timeout)) {
        headers.insert("grpc-timeout", value);
    }
}

fn missing(error: EvalError) -> CallFailure {
    CallFailure::new(FailureKind::MissingInput, error.to_string())
}

fn json_body(value: &Value) -> Option<(Bytes, &'static str)> {
    Some((Bytes::from(value.to_string()), "application/json"))
}

fn prepare_rest(rest: &RestCall, bindings: &Bindings<'_>) -> Result<Prepared, CallFailure> {
    let body = match &rest.body {
        Some(template) => json_body(
            &template
                .render(bindings, Strictness::Required)
                .map_err(missing)?,
        ),
        None => None,
    };
    let path = bindings.render(&rest.path, Target::Url).map_err(missing)?;
    Ok(Prepared {
        method: rest.method.clone(),
        path,
        body,
        decode: Decode::Json,
    })
}

fn prepare_graphql(call: &GraphQlCall, bindings: &Bindings<'_>) -> Result<Prepared, CallFailure> {
    let variables = match &call.variables {
        Some(template) => template
            .render(bindings, Strictness::Required)
            .map_err(missing)?,
        None => json!({}),
    };
    let body = json_body(&json!({ "query": call.query, "variables": variables }));
    let path = bindings.render(&call.path, Target::Url).map_err(missing)?;
    Ok(Prepared {
        method: Method::POST,
        path,
        body,
        decode: Decode::GraphQl {
            data_path: call.data_path.clone(),
        },
    })
}

/// The request message from the rendered JSON, framed for gRPC.
fn prepare_grpc(call: &GrpcCall, bindings: &Bindings<'_>) -> Result<Prepared, CallFailure> {
    let value = match &call.message {
        Some(template) => template
            .render(bindings, Strictness::Required)
            .map_err(missing)?,
        None => json!({}),
    };
    let input = call.method.input();
    let message = transcode::message_from_value(&input, value, call.json).map_err(|error| {
        CallFailure::new(
            FailureKind::BadInput,
            format!("the {} request message: {error}", input.full_name()),
        )
    })?;
    let body = Some((
        framing::encode(&transcode::encode(&message)),
        "application/grpc",
    ));
    let decode = Decode::Grpc {
        output: call.method.output(),
    };
    Ok(Prepared {
        method: Method::POST,
        path: call.path.clone(),
        body,
        decode,
    })
}

fn render_headers(
    spec: &CallSpec,
    bindings: &Bindings<'_>,
    mut headers: HeaderMap,
) -> Result<HeaderMap, CallFailure> {
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    for (name, template) in &spec.headers {
        let text = bindings.render(template, Target::Text).map_err(missing)?;
        let value = HeaderValue::from_str(&text).map_err(|_| {
            CallFailure::new(
                FailureKind::MissingInput,
                format!("header {name}: rendered value {text:?} is not a valid header value"),
            )
        })?;
        headers.insert(name.clone(), value);
    }
    Ok(headers)
}
