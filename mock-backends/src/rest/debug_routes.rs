//! Test utilities every REST service serves under `/debug`:
//! `echo` (reflects the request, can set response headers and status),
//! `upload` (streams a body of any size, hashing it and reporting progress)
//! and `download` (streams deterministic bytes).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use futures::{Stream, StreamExt};
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::api_error::ApiError;
use crate::control::ControlState;
use crate::debug::{PseudoRandomBytes, chunk_lengths};

/// The `/debug/*` routes, reporting upload progress to `control`.
pub(crate) fn router(control: Arc<ControlState>) -> Router {
    Router::new()
        .route("/debug/echo", any(echo))
        .route("/debug/echo/{*rest}", any(echo))
        .route("/debug/upload", post(upload))
        .route("/debug/download", get(download))
        .with_state(control)
}

fn bad_header(name: &str, message: String) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "INVALID_ECHO_HEADER",
        format!("header `{name}`: {message}"),
    )
}

/// Headers the response should carry, from `x-echo-set-header: name=value`.
fn echo_response_headers(headers: &HeaderMap) -> Result<Vec<(HeaderName, HeaderValue)>, ApiError> {
    let name = "x-echo-set-header";
    headers
        .get_all(name)
        .iter()
        .map(|raw| {
            let raw = raw
                .to_str()
                .map_err(|_| bad_header(name, "is not ASCII".into()))?;
            let (key, value) = raw
                .split_once('=')
                .ok_or_else(|| bad_header(name, format!("expected name=value, got {raw:?}")))?;
            let key =
                HeaderName::try_from(key.trim()).map_err(|e| bad_header(name, e.to_string()))?;
            let value =
                HeaderValue::try_from(value.trim()).map_err(|e| bad_header(name, e.to_string()))?;
            Ok((key, value))
        })
        .collect()
}

fn echo_status(headers: &HeaderMap) -> Result<StatusCode, ApiError> {
    let Some(raw) = headers.get("x-echo-status") else {
        return Ok(StatusCode::OK);
    };
    raw.to_str()
        .ok()
        .and_then(|s| s.trim().parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| {
            bad_header(
                "x-echo-status",
                format!("expected a status code, got {raw:?}"),
            )
        })
}

fn headers_as_json(headers: &HeaderMap) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        map.entry(name.to_string())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    map
}

async fn echo(request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let extra_headers = echo_response_headers(&parts.headers)?;
    let status = echo_status(&parts.headers)?;
    let mut body_len = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        body_len += chunk.map_err(unreadable)?.len() as u64;
    }
    let reflected = json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "headers": headers_as_json(&parts.headers),
        "body_len": body_len,
    });
    let mut response = (status, axum::Json(reflected)).into_response();
    for (name, value) in extra_headers {
        response.headers_mut().append(name, value);
    }
    Ok(response)
}

fn unreadable(error: axum::Error) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "BODY_UNREADABLE",
        format!("request body could not be read: {error}"),
    )
}

async fn upload(
    State(control): State<Arc<ControlState>>,
    body: Body,
) -> Result<Response, ApiError> {
    control.upload_progress.send_replace(0);
    let mut hasher = Sha256::new();
    let mut received = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(unreadable)?;
        hasher.update(&chunk);
        received += chunk.len() as u64;
        control.upload_progress.send_replace(received);
    }
    let sha256 = hex::encode(hasher.finalize());
    Ok(axum::Json(json!({ "bytes": received, "sha256": sha256 })).into_response())
}

#[derive(Debug, Deserialize)]
struct DownloadQuery {
    bytes: Option<String>,
    seed: Option<String>,
}

fn number_param(name: &str, raw: Option<&str>, default: Option<u64>) -> Result<u64, ApiError> {
    match (raw, default) {
        (None, Some(default)) => Ok(default),
        (None, None) => Err(ApiError::invalid_query(format!(
            "query parameter `{name}` is required"
        ))),
        (Some(raw), _) => raw.parse().map_err(|_| {
            ApiError::invalid_query(format!(
                "query parameter `{name}` must be a non-negative integer, got {raw:?}"
            ))
        }),
    }
}

async fn download(
    query: Result<Query<DownloadQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::invalid_query(rejection.body_text()))?;
    let bytes = number_param("bytes", query.bytes.as_deref(), None)?;
    let seed = number_param("seed", query.seed.as_deref(), Some(0))?;
    let body = Body::from_stream(download_stream(bytes, seed));
    Ok(([(CONTENT_LENGTH, bytes.to_string())], body).into_response())
}

/// `n` deterministic bytes in chunks of [`crate::debug::DOWNLOAD_CHUNK`].
fn download_stream(n: u64, seed: u64) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let mut generator = PseudoRandomBytes::new(seed);
    futures::stream::iter(chunk_lengths(n)).map(move |len| {
        let mut chunk = vec![0u8; len];
        generator.fill(&mut chunk);
        Ok(Bytes::from(chunk))
    })
}
