//! One GraphQL request to a subgraph over its upstream pool, and the
//! rewriting of what comes back: transport failures and subgraph errors
//! become [`GraphqlError`]s with stable codes, subgraph messages masked
//! unless the route exposes them.

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{Method, Request};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ExecutionContext;
use crate::body;
use crate::context::X_REQUEST_ID;
use crate::graphql::error::GraphqlError;
use crate::upstream::UpstreamError;

/// Largest subgraph response body read.
const MAX_SUBGRAPH_RESPONSE: usize = 64 * 1024 * 1024;

/// What a subgraph answered.
#[derive(Debug, Default, Deserialize)]
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

/// Sends `query` with `variables` to `service`.
pub(crate) async fn call(
    ctx: &ExecutionContext<'_>,
    service: &str,
    query: &str,
    variables: Map<String, Value>,
) -> Result<SubgraphResponse, GraphqlError> {
    let client = ctx.supergraph.subgraphs.get(service).ok_or_else(|| {
        GraphqlError::new(
            "SUBGRAPH_UNKNOWN",
            format!("subgraph {service:?} has no usable http:// URL in the supergraph"),
        )
    })?;
    let request = build_request(&client.path, &ctx.options.request_id, query, variables)
        .map_err(|e| failure(service, "SUBGRAPH_REQUEST_FAILED", e.to_string()))?;
    let response = client
        .pool
        .send(request, client.timeout)
        .await
        .map_err(|error| {
            let code = match error {
                UpstreamError::Timeout { .. } => "SUBGRAPH_TIMEOUT",
                UpstreamError::Unavailable { .. } => "SUBGRAPH_UNAVAILABLE",
            };
            failure(service, code, error.to_string())
        })?;
    let status = response.status();
    let bytes = read_body(response.into_body())
        .await
        .map_err(|detail| failure(service, "SUBGRAPH_REQUEST_FAILED", detail))?;
    parse_response(service, status, &bytes)
}

fn build_request(
    path: &http::uri::PathAndQuery,
    request_id: &str,
    query: &str,
    variables: Map<String, Value>,
) -> Result<Request<body::GatewayBody>, http::Error> {
    let payload = json!({ "query": query, "variables": variables }).to_string();
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path.clone())
        .header(CONTENT_TYPE, "application/json")
        .header(
            ACCEPT,
            "application/graphql-response+json, application/json",
        );
    if !request_id.is_empty() {
        request = request.header(X_REQUEST_ID, request_id);
    }
    request.body(body::full(Bytes::from(payload)))
}

/// A GraphQL body is used whatever the status; without one, a non-2xx
/// status is the error.
fn parse_response(
    service: &str,
    status: http::StatusCode,
    bytes: &[u8],
) -> Result<SubgraphResponse, GraphqlError> {
    match serde_json::from_slice::<SubgraphResponse>(bytes) {
        Ok(parsed) if status.is_success() || parsed.data.is_some() || !parsed.errors.is_empty() => {
            Ok(parsed)
        }
        Ok(_) | Err(_) if !status.is_success() => Err(failure(
            service,
            "SUBGRAPH_HTTP_ERROR",
            format!("subgraph answered HTTP {}", status.as_u16()),
        )),
        Ok(parsed) => Ok(parsed),
        Err(error) => Err(failure(
            service,
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

fn failure(service: &str, code: &str, detail: String) -> GraphqlError {
    GraphqlError::new(
        code,
        format!("request to subgraph {service:?} failed: {detail}"),
    )
    .with_extension("serviceName", service)
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
    let mut rewritten = GraphqlError::new("DOWNSTREAM_SERVICE_ERROR", message)
        .with_extension("serviceName", service);
    if let Some(code) = original_code.filter(|_| ctx.options.expose_subgraph_errors) {
        rewritten = rewritten.with_extension("code", code);
    }
    rewritten.path = path;
    rewritten
}
