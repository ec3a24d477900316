//! Turning a call's templates into a concrete upstream request.
//!
//! Rendering happens when the call starts, with the values of the calls it
//! depends on. Every call carries the client's `authorization` and the
//! request id; the call's own templated headers come on top.

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Uri};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::error::{CallFailure, FailureKind};
use super::eval::{Bindings, Target};
use super::plan::{CallKind, CallSpec};
use super::template::Segment;
use super::value::Strictness;

/// How a call's response body becomes its value.
#[derive(Debug, Clone, PartialEq)]
pub enum Decode {
    /// The body is the value.
    Json,
    /// `{data, errors}`: errors fail the call, the value is `data` at the path.
    GraphQl { data_path: Vec<Segment> },
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
}

impl RenderedCall {
    /// Identifies the upstream request for caching and coalescing: the
    /// backend, method, URI, body and the caller's `authorization`. Hashed,
    /// so no credential is kept in a key.
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
        let auth = self
            .headers
            .get(http::header::AUTHORIZATION)
            .map_or(&[][..], HeaderValue::as_bytes);
        hasher.update(auth);
        hex::encode(hasher.finalize())
    }
}

/// Renders `spec` with the values at hand. `forwarded` holds the headers
/// every call carries (authorization, request id).
pub fn render_call(
    spec: &CallSpec,
    bindings: &Bindings<'_>,
    forwarded: &HeaderMap,
) -> Result<RenderedCall, CallFailure> {
    let missing = |error: super::eval::EvalError| {
        CallFailure::new(FailureKind::MissingInput, error.to_string())
    };
    let (method, path, body, decode) = match &spec.kind {
        CallKind::Rest(rest) => {
            let body = match &rest.body {
                Some(template) => Some(
                    template
                        .render(bindings, Strictness::Required)
                        .map_err(missing)?,
                ),
                None => None,
            };
            (
                rest.method.clone(),
                bindings.render(&rest.path, Target::Url).map_err(missing)?,
                body,
                Decode::Json,
            )
        }
        CallKind::GraphQl(call) => {
            let variables = match &call.variables {
                Some(template) => template
                    .render(bindings, Strictness::Required)
                    .map_err(missing)?,
                None => json!({}),
            };
            let body = json!({ "query": call.query, "variables": variables });
            let decode = Decode::GraphQl {
                data_path: call.data_path.clone(),
            };
            (
                Method::POST,
                bindings.render(&call.path, Target::Url).map_err(missing)?,
                Some(body),
                decode,
            )
        }
    };
    let uri = Uri::try_from(path.as_str()).map_err(|error| {
        CallFailure::new(
            FailureKind::MissingInput,
            format!("rendered path \"{path}\" is not a valid URI: {error}"),
        )
    })?;
    let headers = render_headers(spec, bindings, forwarded, body.is_some())?;
    let body = body.map_or_else(Bytes::new, |value| Bytes::from(value.to_string()));
    Ok(RenderedCall {
        method,
        uri,
        headers,
        body,
        decode,
    })
}

fn render_headers(
    spec: &CallSpec,
    bindings: &Bindings<'_>,
    forwarded: &HeaderMap,
    has_body: bool,
) -> Result<HeaderMap, CallFailure> {
    let mut headers = forwarded.clone();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    if has_body {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    for (name, template) in &spec.headers {
        let text = bindings
            .render(template, Target::Text)
            .map_err(|error| CallFailure::new(FailureKind::MissingInput, error.to_string()))?;
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
