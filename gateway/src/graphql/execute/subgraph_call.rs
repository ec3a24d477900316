//! One GraphQL request to a subgraph over its upstream pool, and the
//! rewriting of what comes back: transport failures and subgraph errors
//! become [`GraphqlError`]s with stable codes, subgraph messages masked
//! unless the route exposes them. With traces on, each call is a
//! `subgraph fetch` span (subgraph name, entity count; a failure recorded
//! with its detail), the parent of the call's upstream attempt.

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use http::{Method, Request};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Map, Value};
use tracing::Instrument;

use std::sync::Arc;

use super::ExecutionContext;
use super::dedupe::{self, FetchKey};
use crate::body;
use crate::graphql::error::GraphqlError;
use crate::json_write;
use crate::observe::otel::{otel_span, spans};
use crate::upstream::{UpstreamError, UpstreamPool};

/// Largest subgraph response body read.
const MAX_SUBGRAPH_RESPONSE: usize = 64 * 1024 * 1024;

/// What a subgraph answered (parsed once, shared by every caller of a
/// deduplicated request).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct SubgraphResponse {
    #[serde(default)]
    pub data: Option<Value>,
    #[serde(default)]
    pub errors: Vec<SubgraphError>,
}

/// One error as a subgraph reported it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SubgraphError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub path: Option<Vec<Value>>,
    #[serde(default)]
    pub extensions: Option<Map<String, Value>>,
}

/// Sends `query` with its request body (see [`request_body`]) to
/// `service`, in a `subgraph fetch` span (an entity fetch's count is its
/// `entities`: the representations sent), timed for the metrics. The
/// answer may be shared with concurrent identical requests ([`dedupe`]).
pub(crate) async fn call(
    ctx: &ExecutionContext<'_>,
    service: &str,
    query: &str,
    body: Bytes,
    entities: usize,
) -> Result<Arc<SubgraphResponse>, GraphqlError> {
    let span = otel_span!(
        "subgraph fetch",
        graphql.subgraph.name = service,
        graphql.entity.count = entities,
    );
    let started = std::time::Instant::now();
    let result = send(ctx, service, query, body).instrument(span).await;
    if let Some(metrics) = &ctx.options.metrics {
        metrics.graphql_subgraph_fetch(service, started.elapsed());
    }
    result
}

async fn send(
    ctx: &ExecutionContext<'_>,
    service: &str,
    query: &str,
    body: Bytes,
) -> Result<Arc<SubgraphResponse>, GraphqlError> {
    let client = ctx.supergraph.subgraphs.get(service).ok_or_else(|| {
        tracing::warn!(
            subgraph = service,
            "the subgraph has no usable http:// URL in the supergraph"
        );
        GraphqlError::new(
            "SUBGRAPH_UNKNOWN",
            "a subgraph of this operation cannot be called",
        )
    })?;
    let failed = |code: &'static str, detail: String| failure(ctx, service, code, detail);
    let outgoing = build_request(ctx, service, &client.path, query, body)
        .map_err(|e| failed("SUBGRAPH_REQUEST_FAILED", e.to_string()))?;
    let fetch = fetch(Arc::clone(&client.pool), outgoing.request, client.timeout);
    let answer = if client.dedupe && !is_mutation(query) {
        let key = FetchKey::new(&client.pool, outgoing.body, &outgoing.propagated);
        dedupe::join_or_start(key, fetch).await.0
    } else {
        fetch.await
    };
    answer.map_err(|(code, detail)| failed(code, detail))
}

/// One subgraph request on its own (it owns what it needs, so callers
/// with the identical request can share it: see [`dedupe`]).
async fn fetch(
    pool: Arc<UpstreamPool>,
    request: Request<body::GatewayBody>,
    timeout: std::time::Duration,
) -> dedupe::FetchResult {
    let response = pool.send(request, timeout).await.map_err(|error| {
        let code = match error {
            UpstreamError::Timeout { .. } => "SUBGRAPH_TIMEOUT",
            UpstreamError::Unavailable { .. } | UpstreamError::CircuitOpen { .. } => {
                "SUBGRAPH_UNAVAILABLE"
            }
            // The gateway builds this body whole: it cannot fail.
            UpstreamError::ClientBody(_) => "SUBGRAPH_REQUEST_FAILED",
        };
        (code, error.to_string())
    })?;
    let status = response.status();
    let bytes = read_body(response.into_body())
        .await
        .map_err(|detail| ("SUBGRAPH_REQUEST_FAILED", detail))?;
    parse_response(status, &bytes).map(Arc::new)
}

/// Whether a subgraph operation is a mutation (never deduplicated).
fn is_mutation(query: &str) -> bool {
    query.trim_start().starts_with("mutation")
}

/// A subgraph request, with what identifies it for [`dedupe`].
struct Outgoing {
    request: Request<body::GatewayBody>,
    body: Bytes,
    /// The client headers the propagation rules selected.
    propagated: http::HeaderMap,
}

/// The subgraph request: the client headers the propagation rules select
/// for `service`, the GraphQL media types, then the upstream-request
/// builder's headers.
fn build_request(
    ctx: &ExecutionContext<'_>,
    service: &str,
    path: &http::uri::PathAndQuery,
    query: &str,
    body: Bytes,
) -> Result<Outgoing, http::Error> {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path.clone())
        .body(body::full(body.clone()))?;
    let outbound = ctx.options.outbound.as_deref();
    let propagated = outbound
        .map(|outbound| outbound.propagated(&ctx.options.propagate.for_subgraph(service)))
        .unwrap_or_default();
    // Room for the propagated headers, the two below, the forwarding
    // family, the request id and the trace context: no regrowth.
    let mut headers = HeaderMap::with_capacity(propagated.len() + 12);
    headers.extend(
        propagated
            .iter()
            .map(|(name, value)| (name.clone(), value.clone())),
    );
    *request.headers_mut() = headers;
    let headers = request.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        ACCEPT,
        HeaderValue::from_static("application/graphql-response+json, application/json"),
    );
    if let Some(outbound) = outbound {
        outbound.finish(&mut request);
    }
    // A query fetch may be retried like a GET; a mutation's may not.
    if !is_mutation(query) {
        request
            .extensions_mut()
            .insert(crate::upstream::retry::Idempotent);
    }
    Ok(Outgoing {
        request,
        body,
        propagated,
    })
}

/// `{"query": .., "variables": ..}`, written once into a buffer sized for
/// it: the `variables` the operation uses, then each `written` variable
/// (a name and its JSON text: entity representations, written straight
/// from the tree by [`super::entities`]). A value sharing a written
/// variable's name is left out: the written one is the fetch's own.
pub(crate) fn request_body(
    query: &str,
    variables: &Map<String, Value>,
    written: &[(&str, &[u8])],
) -> Bytes {
    let written_len: usize = written
        .iter()
        .map(|(name, json)| name.len() + json.len() + 4)
        .sum();
    let mut buffer = Vec::with_capacity(query.len() + written_len + 256);
    buffer.extend_from_slice(b"{\"query\":");
    json_write::string(&mut buffer, query);
    buffer.extend_from_slice(b",\"variables\":{");
    let mut first = true;
    let own = |name: &str| written.iter().any(|(written, _)| *written == name);
    let values = variables.iter().filter(|(name, _)| !own(name));
    let entries = values.map(|(name, value)| (name.as_str(), Entry::Value(value)));
    let written = written
        .iter()
        .map(|(name, json)| (*name, Entry::Json(json)));
    for (name, entry) in entries.chain(written) {
        if !std::mem::take(&mut first) {
            buffer.push(b',');
        }
        json_write::string(&mut buffer, name);
        buffer.push(b':');
        match entry {
            Entry::Value(value) => json_write::value(&mut buffer, value),
            Entry::Json(json) => buffer.extend_from_slice(json),
        }
    }
    buffer.extend_from_slice(b"}}");
    Bytes::from(buffer)
}

/// A variable of [`request_body`]: a JSON value, or JSON text.
enum Entry<'a> {
    Value(&'a Value),
    Json(&'a [u8]),
}

/// A GraphQL body is used whatever the status; without one, a non-2xx
/// status is the error (its code and the detail for the log).
fn parse_response(
    status: http::StatusCode,
    bytes: &[u8],
) -> Result<SubgraphResponse, (&'static str, String)> {
    match serde_json::from_slice::<SubgraphResponse>(bytes) {
        Ok(parsed) if status.is_success() || parsed.data.is_some() || !parsed.errors.is_empty() => {
            Ok(parsed)
        }
        Ok(_) | Err(_) if !status.is_success() => Err((
            "SUBGRAPH_HTTP_ERROR",
            format!("subgraph answered HTTP {}", status.as_u16()),
        )),
        Ok(parsed) => Ok(parsed),
        Err(error) => Err((
            "SUBGRAPH_INVALID_RESPONSE",
            format!("subgraph response is not GraphQL JSON: {error}"),
        )),
    }
}

async fn read_body(mut body: body::GatewayBody) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("reading the response failed: {e}"))?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > MAX_SUBGRAPH_RESPONSE {
                return Err(format!(
                    "response is larger than {MAX_SUBGRAPH_RESPONSE} bytes"
                ));
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

/// A failed subgraph request as the client sees it: a generic message per
/// code, the subgraph's name only when the route exposes subgraph errors.
/// The detail (backend, connection error) goes to the log.
fn failure(
    ctx: &ExecutionContext<'_>,
    service: &str,
    code: &'static str,
    detail: String,
) -> GraphqlError {
    spans::fail(&tracing::Span::current(), code, &detail);
    tracing::warn!(
        request_id = %ctx.options.request_id,
        subgraph = service,
        code,
        detail,
        "subgraph request failed"
    );
    let message = match code {
        "SUBGRAPH_TIMEOUT" => "a subgraph did not respond in time",
        "SUBGRAPH_UNAVAILABLE" => "a subgraph is unavailable",
        "SUBGRAPH_HTTP_ERROR" => "a subgraph answered with an error status",
        "SUBGRAPH_INVALID_RESPONSE" => "a subgraph sent an invalid response",
        _ => "a subgraph request failed",
    };
    let error = GraphqlError::new(code, message);
    if ctx.options.expose_subgraph_errors {
        error.with_extension("serviceName", service)
    } else {
        error
    }
}

/// A subgraph's error as the client sees it: its message masked unless
/// exposure is on, its code kept when it has one, `path` given by caller.
pub(crate) fn rewrite_error(
    ctx: &ExecutionContext<'_>,
    service: &str,
    error: SubgraphError,
    path: Option<Vec<Value>>,
) -> GraphqlError {
    let original_code = error
        .extensions
        .as_ref()
        .and_then(|e| e.get("code"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let message = if ctx.options.expose_subgraph_errors {
        error.message
    } else {
        "Subgraph errors redacted".to_owned()
    };
    let mut rewritten = GraphqlError::new("DOWNSTREAM_SERVICE_ERROR", message);
    if ctx.options.expose_subgraph_errors {
        rewritten = rewritten.with_extension("serviceName", service);
        if let Some(code) = original_code {
            rewritten = rewritten.with_extension("code", code);
        }
    }
    rewritten.path = path;
    rewritten
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::request_body;

    #[test]
    fn the_body_holds_the_query_the_used_variables_and_the_written_ones() {
        let variables =
            json!({"first": 10, "filter": {"q": "a \"b\""}, "representations": "client's"});
        let variables = variables.as_object().unwrap();
        let written: &[(&str, &[u8])] = &[
            ("representations", br#"[{"__typename":"A","id":"1"}]"#),
            ("r1", b"[]"),
        ];
        let body = request_body("query Q($first: Int) { a }", variables, written);
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            parsed,
            json!({
                "query": "query Q($first: Int) { a }",
                "variables": {
                    "first": 10,
                    "filter": {"q": "a \"b\""},
                    "representations": [{"__typename": "A", "id": "1"}],
                    "r1": []
                }
            })
        );
        // Without written variables: exactly what serde_json writes.
        let plain = request_body("{ a }", variables, &[]);
        let expected =
            serde_json::to_vec(&json!({"query": "{ a }", "variables": variables})).unwrap();
        assert_eq!(plain.as_ref(), expected.as_slice());
    }
}
