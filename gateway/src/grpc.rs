//! The gRPC bridge: REST/JSON to gRPC transcoding for all four call kinds,
//! native gRPC passthrough and gRPC-Web, from .proto files loaded at
//! runtime. No code is generated per service.
//!
//! Bird's-eye view:
//! * **Config time** — [`descriptors`] compiles the protos with protox
//!   into a prost-reflect pool; [`http_rule`] reads `google.api.http`
//!   annotations and [`path_template`] turns their templates into route
//!   patterns; the result is a [`GrpcRoute`] per route (`config` does the
//!   wiring, see `config/compile/grpc.rs`).
//! * **Request time** — [`handle`] picks the handler by the method's call
//!   kind: [`unary`], [`server_stream`] (NDJSON or SSE),
//!   [`client_stream`] (NDJSON or a JSON array), [`bidi_ws`] (WebSocket),
//!   or [`passthrough`] / [`grpc_web`] for native routes. [`transcode`]
//!   does JSON ⇄ protobuf, [`framing`] the 5-byte message prefix, [`call`]
//!   the upstream call through the backend's `UpstreamPool`, [`status`]
//!   the gRPC → HTTP status table.
//! * **Errors** — every handler returns a [`GrpcError`]; it becomes a
//!   `GatewayError` rendered at the edge as a JSON `google.rpc.Status`
//!   (transcoded routes) or a trailers-only gRPC response (native routes).
//!
//! User guide: docs/grpc-bridge.md.

pub mod bidi_ws;
pub mod call;
pub mod client_stream;
pub mod error;
pub mod framing;
pub mod grpc_web;
pub mod json_input;
pub mod passthrough;
pub mod route;
pub mod server_stream;
pub mod status;
pub mod transcode;
pub mod unary;
pub mod ws_close;

pub use crate::protos::{descriptors, http_rule, path_template};
pub use error::GrpcError;
pub use route::{CallKind, GrpcMode, GrpcRoute, Transcoding};

use http::{Request, Response};

use crate::body::GatewayBody;
use crate::context::RequestContext;
use crate::edge_error::GatewayError;

/// Serves a request on a gRPC route (called by `dispatch`).
pub async fn handle(
    request: Request<GatewayBody>,
    ctx: RequestContext,
    route: &GrpcRoute,
) -> Result<Response<GatewayBody>, GatewayError> {
    let transcoding = match &route.mode {
        GrpcMode::Passthrough => return passthrough::passthrough(request, ctx, route).await,
        GrpcMode::Transcode(transcoding) => transcoding,
    };
    let result = match transcoding.call_kind() {
        CallKind::Unary => unary::unary(request, ctx, route, transcoding).await,
        CallKind::ServerStreaming => {
            server_stream::server_streaming(request, ctx, route, transcoding).await
        }
        CallKind::ClientStreaming => {
            client_stream::client_streaming(request, ctx, route, transcoding).await
        }
        CallKind::Bidirectional => bidi_ws::bidirectional(request, ctx, route, transcoding).await,
    };
    result.map_err(GatewayError::from)
}
