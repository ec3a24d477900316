//! Per-request state handed from the dispatcher to a route's handler.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;

use crate::config::model::RouteSpec;
use crate::router::Params;
use crate::snapshot::Snapshot;

/// The request-id header: the one spelling the gateway reads, mints and
/// forwards (REST, gRPC, composition, GraphQL) and the tests assert on.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id: taken from `x-request-id` or generated, then sent
/// upstream and back to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub Arc<str>);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The client's socket, set by the server on every request.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// Everything a handler needs besides the request itself.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: RequestId,
    pub client_addr: SocketAddr,
    /// The snapshot this request started on.
    pub snapshot: Arc<Snapshot>,
    pub route: Arc<RouteSpec>,
    /// Path parameters, raw (percent-encoded).
    pub params: Params,
}

impl RequestContext {
    /// The route's timeout, else the given backend default.
    pub fn timeout_or(&self, backend_default: Duration) -> Duration {
        self.route.timeout.unwrap_or(backend_default)
    }
}
