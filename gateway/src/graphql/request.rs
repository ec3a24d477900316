//! GraphQL over HTTP, request side: a POST with a JSON body or a GET with
//! `query`, `operationName`, `variables` and `extensions` in the query
//! string (an APQ request may carry only a hash); and the
//! response media type the client accepts.

use http::header::{ACCEPT, CONTENT_TYPE};
use http::{Method, Request};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::RequestError;
use crate::body::GatewayBody;
use crate::client_body::RequestBodyFault;

/// `application/graphql-response+json`.
pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// One GraphQL request.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphqlRequest {
    /// Empty when absent (an APQ request may send only a hash).
    #[serde(default)]
    pub query: String,
    #[serde(default)]
    pub operation_name: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub variables: Map<String, Value>,
    /// `extensions` (e.g. `persistedQuery`).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub extensions: Map<String, Value>,
    /// Who sent it, as the route's authentication layer verified it
    /// (`None`: unauthenticated); `@authenticated` / `@requiresScopes`
    /// are checked against it. Never read from the body.
    #[serde(skip)]
    pub principal: Option<crate::context::Principal>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    Ok(Option::<Map<String, Value>>::deserialize(d)?.unwrap_or_default())
}

/// The response media type: `application/graphql-response+json` when
/// the client lists it, else `application/json`.
pub fn response_media_type<B>(request: &Request<B>) -> &'static str {
    let accepts = request
        .headers()
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(GRAPHQL_RESPONSE_JSON));
    if accepts {
        GRAPHQL_RESPONSE_JSON
    } else {
        "application/json"
    }
}

/// Whether a browser asks for a page (GraphiQL) rather than data: a GET
/// whose `Accept` lists `text/html` and no JSON type (browsers send
/// `text/html,…,*/*`; GraphQL clients ask for JSON). With `?query=`, the
/// page opens with that query.
pub fn wants_html<B>(request: &Request<B>) -> bool {
    let accept = request
        .headers()
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    request.method() == Method::GET
        && accept.contains("text/html")
        && !accept.contains("application/json")
        && !accept.contains(GRAPHQL_RESPONSE_JSON)
}

/// Reads the GraphQL request from a GET or POST.
pub async fn read(
    request: Request<GatewayBody>,
    max_body: u64,
) -> Result<GraphqlRequest, RequestError> {
    match *request.method() {
        Method::GET => from_query_string(request.uri().query().unwrap_or("")),
        Method::POST => from_body(request, max_body).await,
        ref other => Err(RequestError::MethodNotAllowed(other.to_string())),
    }
}

async fn from_body(
    request: Request<GatewayBody>,
    max_body: u64,
) -> Result<GraphqlRequest, RequestError> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/json")
        && !content_type.starts_with(GRAPHQL_RESPONSE_JSON)
    {
        return Err(RequestError::BadRequest(format!(
            "content-type {content_type:?} is not supported; send application/json"
        )));
    }
    let body = read_limited(request.into_body(), max_body).await?;
    serde_json::from_slice(&body)
        .map_err(|e| RequestError::BadRequest(format!("the body is not a GraphQL request: {e}")))
}

async fn read_limited(mut body: GatewayBody, max_body: u64) -> Result<Vec<u8>, RequestError> {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| match RequestBodyFault::find_boxed(&e) {
            Some(RequestBodyFault::TooLarge(_)) => RequestError::BodyTooLarge { limit: max_body },
            Some(RequestBodyFault::Malformed) | None => RequestError::BadRequestBody,
        })?;
        if let Ok(data) = frame.into_data() {
            if (bytes.len() + data.len()) as u64 > max_body {
                return Err(RequestError::BodyTooLarge { limit: max_body });
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

fn from_query_string(query: &str) -> Result<GraphqlRequest, RequestError> {
    let mut request = GraphqlRequest::default();
    let mut has_query = false;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = decode(value)?;
        match key {
            "query" => {
                request.query = value;
                has_query = true;
            }
            "operationName" if !value.is_empty() => request.operation_name = Some(value),
            "variables" if !value.is_empty() => {
                request.variables = serde_json::from_str(&value).map_err(|e| {
                    RequestError::BadRequest(format!("`variables` is not a JSON object: {e}"))
                })?;
            }
            "extensions" if !value.is_empty() => {
                request.extensions = serde_json::from_str(&value).map_err(|e| {
                    RequestError::BadRequest(format!("`extensions` is not a JSON object: {e}"))
                })?;
                has_query = true;
            }
            _ => {}
        }
    }
    if !has_query {
        return Err(RequestError::BadRequest(
            "missing `query` (or `extensions` with a persisted query) parameter".to_owned(),
        ));
    }
    Ok(request)
}

/// Decodes one `application/x-www-form-urlencoded` value.
pub(crate) fn decode(value: &str) -> Result<String, RequestError> {
    let spaced = value.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| {
            RequestError::BadRequest("a query-string parameter is not valid UTF-8".to_owned())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_parameters_are_decoded() {
        let request =
            from_query_string("query=%7B+a+%7D&operationName=Op&variables=%7B%22x%22%3A1%7D")
                .unwrap();
        assert_eq!(request.query, "{ a }");
        assert_eq!(request.operation_name.as_deref(), Some("Op"));
        assert_eq!(request.variables["x"], 1);
    }

    #[test]
    fn get_without_query_is_rejected() {
        assert_eq!(
            from_query_string("operationName=x").unwrap_err().code(),
            "BAD_REQUEST"
        );
    }
}
