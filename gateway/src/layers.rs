//! The tower layers around the dispatcher, one concern each.
//!
//! The stack is assembled in [`gateway_service`], outermost first:
//!
//! 1. [`RequestIdLayer`]: take or mint `x-request-id`, put it in the request
//!    extensions and on the response.
//! 2. [`ClientIpLayer`]: resolve the client's address through the trusted
//!    proxies, once (docs/security.md); never fails.
//! 3. [`ObserveLayer`]: open the request's [`crate::observe::Exchange`] and
//!    finish it when the response body ends (access log, metrics, traces).
//! 4. [`RescueLayer`]: render any `GatewayError` as the client's error form,
//!    and log it with the request id and client address; below it services
//!    may fail, above it nothing does.
//! 5. [`StrictRequestLayer`]: refuse ambiguous or oversized request heads
//!    (framing, host, target length, header count) and apply the
//!    underscore-header policy (docs/security.md).
//! 6. The [`Dispatcher`]: route and handle.
//!
//! Resilience, security and observability layers hang on each route's own pipeline, after dispatch.

mod client_ip;
mod request_id;
mod rescue;
mod strict_request;

pub use client_ip::{ClientIpLayer, ClientIpService};
pub use request_id::{RequestIdLayer, RequestIdService};
pub use rescue::{RescueLayer, RescueService};
pub use strict_request::{StrictRequestLayer, StrictRequestService};

use std::convert::Infallible;
use std::sync::Arc;

use arc_swap::ArcSwap;
use http::{Request, Response};
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;

use crate::body::GatewayBody;
use crate::dispatch::Dispatcher;
use crate::observe::{ObserveLayer, Observers};
use crate::snapshot::Snapshot;

/// The gateway's whole request path as one cloneable service.
pub type GatewayService =
    BoxCloneSyncService<Request<GatewayBody>, Response<GatewayBody>, Infallible>;

/// Builds the layer stack over a dispatcher reading `current`, reporting
/// to `observers`.
pub fn gateway_service(
    current: Arc<ArcSwap<Snapshot>>,
    observers: Arc<Observers>,
) -> GatewayService {
    let stack = ServiceBuilder::new()
        .layer(RequestIdLayer)
        .layer(ClientIpLayer::new(Arc::clone(&current)))
        .layer(ObserveLayer::new(observers))
        .layer(RescueLayer)
        .layer(StrictRequestLayer::new(Arc::clone(&current)))
        .service(Dispatcher::new(current));
    BoxCloneSyncService::new(stack)
}
