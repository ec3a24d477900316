//! The REST edge proxy handler: one request in, one upstream call, the
//! response streamed back unchanged but for hop-by-hop headers and the
//! route's header rules (and heartbeat comments between the events of a
//! quiet `text/event-stream`). The body is under the route's, else the
//! backend's, `body_idle_timeout`.

mod rewrite;

pub use rewrite::rewrite_path;

use std::sync::Arc;

use http::{Request, Response, StatusCode, Uri};

use crate::body::GatewayBody;
use crate::config::model::{PathRewrite, ProxyAction};
use crate::context::RequestContext;
use crate::edge_error::GatewayError;
use crate::sse_heartbeat::SseHeartbeat;
use crate::upstream::UpstreamPool;
use crate::upstream::outbound::{Outbound, host_from, strip_hop_by_hop};

/// A proxy route's runtime part: its action, and its backend's pool
/// (resolved when the snapshot was built).
#[derive(Debug)]
pub struct ProxyRoute {
    pub action: ProxyAction,
    pub pool: Arc<UpstreamPool>,
}

/// Forwards a request to the route's backend, through its pool.
///
/// It owns its route (one reference count) rather than borrowing it, so
/// that the route's handler can box this future as it is made: the
/// future is a few kilobytes, and each `async` layer around it was one
/// more copy of all of it per request (callgrind: `memcpy` under the
/// handler's closures, about 2,000 instructions a request).
pub async fn forward(
    request: Request<GatewayBody>,
    ctx: RequestContext,
    route: Arc<ProxyRoute>,
) -> Result<Response<GatewayBody>, GatewayError> {
    let (action, pool) = (&route.action, &*route.pool);
    let (mut parts, body) = request.into_parts();
    // Without a rewrite the client's target goes up as it came, uncopied.
    if action.rewrite != PathRewrite::None {
        parts.uri = upstream_target(&parts.uri, action, &ctx)?;
    }
    Outbound::forward_client_head(&ctx, &mut parts);
    let timeout = ctx.timeout_or(pool.spec().request_timeout);
    let body_idle = ctx
        .route
        .body_idle_timeout
        .unwrap_or(pool.spec().body_idle_timeout);
    let response = pool
        .send_with(Request::from_parts(parts, body), timeout, Some(body_idle))
        .await?;
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    ctx.route.headers.apply_to_response(&mut parts.headers);
    let body = if is_event_stream(&parts.headers) {
        let heartbeat = ctx.snapshot.config.server.streams.sse_heartbeat;
        crate::body::boxed(SseHeartbeat::new(body, heartbeat))
    } else {
        body
    };
    Ok(Response::from_parts(parts, body))
}

/// The target sent upstream: the client's, after the route's rewrite.
#[allow(clippy::result_large_err)] // the handlers' error type; built once, on failure
pub fn upstream_target(
    uri: &Uri,
    action: &ProxyAction,
    ctx: &RequestContext,
) -> Result<Uri, GatewayError> {
    if action.rewrite == PathRewrite::None {
        return Ok(uri.clone());
    }
    let path_and_query = rewrite_path(uri, &action.rewrite, &ctx.params);
    Uri::try_from(path_and_query).map_err(|e| {
        GatewayError::new(
            StatusCode::BAD_REQUEST,
            "BAD_PATH",
            format!("rewritten path is not a valid URI: {e}"),
        )
    })
}

/// A `text/event-stream` response gets heartbeats between its events.
fn is_event_stream(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().starts_with("text/event-stream"))
}

/// The host the client asked for: `Host` (HTTP/1.1) or `:authority` (h2).
pub fn host_of_request<B>(request: &Request<B>) -> Option<&str> {
    host_from(request.headers(), request.uri())
}
