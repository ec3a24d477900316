//! One delivery attempt of a stored request: rebuilt from the queue
//! entry, sent through the route's [`UpstreamPool`](crate::upstream::UpstreamPool)
//! (balancing, ejection, connection limits, the backend's retry policy),
//! and the response read whole, bounded, to be kept.
//!
//! A refused connection, a timeout, an open circuit, a 5xx or a 429 is a
//! failed attempt (the worker retries it); any other status is the
//! backend's answer, kept as it is.

use std::time::Duration;

use http::{Request, StatusCode};
use http_body_util::BodyExt as _;

use super::record::{QueuedRequest, StoredResponse};
use super::{AsyncRoute, MAX_ASYNC_BODY};
use crate::upstream::outbound::strip_hop_by_hop;

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The backend answered; keep this.
    Answered(StoredResponse),
    /// Try again later; the reason names the kind of failure only.
    Failed(String),
}

/// Sends the request once (the pool may retry under the backend's own
/// retry policy within `route.timeout`).
pub async fn attempt(route: &AsyncRoute, queued: &QueuedRequest, id: &str) -> Attempt {
    let request = match rebuild(queued) {
        Ok(request) => request,
        // Cannot happen for what `submit` stored; the worker dead-letters it.
        Err(reason) => return Attempt::Failed(reason),
    };
    let response = match route.pool.send(request, route.timeout).await {
        Ok(response) => response,
        Err(error) => {
            tracing::info!(route = %route.route, id, %error, "async delivery attempt failed");
            return Attempt::Failed(error.public_message());
        }
    };
    let status = response.status();
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        tracing::info!(route = %route.route, id, %status, "async delivery attempt refused");
        return Attempt::Failed(format!("the backend answered {}", status.as_u16()));
    }
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    match read_body(body, route.timeout).await {
        BodyRead::Whole(bytes) => Attempt::Answered(StoredResponse::new(
            status.as_u16(),
            &parts.headers,
            Some(&bytes),
        )),
        BodyRead::TooLarge => {
            tracing::warn!(route = %route.route, id, "async response over {MAX_ASYNC_BODY} bytes: body not kept");
            Attempt::Answered(StoredResponse::new(status.as_u16(), &parts.headers, None))
        }
        BodyRead::Failed => Attempt::Failed("the backend's response body failed".to_owned()),
    }
}

/// Whether a stored request can be sent at all (else it is dead-lettered
/// at once: retrying cannot help).
pub fn is_sendable(queued: &QueuedRequest) -> Result<(), String> {
    rebuild(queued).map(drop)
}

fn rebuild(queued: &QueuedRequest) -> Result<Request<crate::body::GatewayBody>, String> {
    let mut request = Request::new(crate::body::full(queued.body()?));
    *request.method_mut() = http::Method::from_bytes(queued.method.as_bytes())
        .map_err(|e| format!("stored method: {e}"))?;
    *request.uri_mut() = queued
        .path_and_query
        .parse()
        .map_err(|e| format!("stored target: {e}"))?;
    *request.headers_mut() = queued.header_map()?;
    Ok(request)
}

enum BodyRead {
    Whole(bytes::Bytes),
    TooLarge,
    Failed,
}

async fn read_body(body: crate::body::GatewayBody, timeout: Duration) -> BodyRead {
    match tokio::time::timeout(timeout, read_bounded(body)).await {
        Ok(read) => read,
        Err(_) => BodyRead::Failed,
    }
}

/// Reads frames until the end, or until the body passes the bound.
async fn read_bounded(mut body: crate::body::GatewayBody) -> BodyRead {
    let mut whole = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return BodyRead::Failed;
        };
        if let Ok(data) = frame.into_data() {
            if whole.len() + data.len() > MAX_ASYNC_BODY {
                return BodyRead::TooLarge;
            }
            whole.extend_from_slice(&data);
        }
    }
    BodyRead::Whole(whole.freeze())
}
