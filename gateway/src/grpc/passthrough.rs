//! Native gRPC through the edge: the request goes to the backend as is
//! (hop-by-hop headers aside) over the pooled HTTP/2 connection, and the
//! response streams back with its trailers intact. gRPC-Web requests on
//! the same route are translated by [`super::grpc_web`].

use http::header::{CONTENT_TYPE, HeaderValue, TE};
use http::request::Parts;
use http::{Request, Response, Uri};

use super::call::grpc_timeout;
use super::error::{GrpcError, NativeGrpcError};
use super::grpc_web;
use super::route::GrpcRoute;
use crate::body::GatewayBody;
use crate::context::RequestContext;
use crate::edge_error::GatewayError;
use crate::upstream::outbound::{Outbound, strip_hop_by_hop};

/// Serves a passthrough route: native gRPC, or gRPC-Web translated.
pub async fn passthrough(
    request: Request<GatewayBody>,
    ctx: RequestContext,
    route: &GrpcRoute,
) -> Result<Response<GatewayBody>, GatewayError> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if let Some(web) = grpc_web::WebKind::of(&content_type) {
        return Ok(grpc_web::serve(request, ctx, route, web)
            .await
            .map_err(NativeGrpcError)?);
    }
    if !content_type.starts_with("application/grpc") {
        let message = format!(
            "this route serves gRPC and gRPC-Web; content-type {content_type:?} is neither"
        );
        return Err(GrpcError::bad_request("UNSUPPORTED_MEDIA_TYPE", message).into());
    }
    Ok(forward(request, &ctx, route)
        .await
        .map_err(NativeGrpcError)?)
}

/// Sends a native gRPC request to the route's backend.
pub(super) async fn forward(
    request: Request<GatewayBody>,
    ctx: &RequestContext,
    route: &GrpcRoute,
) -> Result<Response<GatewayBody>, GrpcError> {
    let pool = std::sync::Arc::clone(&route.pool);
    let (mut parts, body) = request.into_parts();
    prepare_headers(&mut parts, ctx);
    let timeout = ctx.timeout_or(pool.spec().request_timeout);
    let body_idle = ctx.body_idle_or(pool.spec().body_idle_timeout);
    let response = pool
        .send_with(Request::from_parts(parts, body), timeout, Some(body_idle))
        .await?;
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Ok(Response::from_parts(parts, body))
}

/// The client's head through the upstream-request builder, plus what
/// gRPC needs: `te: trailers`, the route's deadline, origin-form URI.
fn prepare_headers(parts: &mut Parts, ctx: &RequestContext) {
    Outbound::forward_client_head(ctx, parts);
    parts
        .headers
        .insert(TE, HeaderValue::from_static("trailers"));
    let deadline = ctx
        .route
        .timeout
        .filter(|_| !parts.headers.contains_key("grpc-timeout"));
    if let Some(value) =
        deadline.and_then(|timeout| HeaderValue::from_str(&grpc_timeout(timeout)).ok())
    {
        parts.headers.insert("grpc-timeout", value);
    }
    let origin = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    if let Ok(uri) = Uri::try_from(origin) {
        parts.uri = uri;
    }
}
