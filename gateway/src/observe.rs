//! Observation of every request: the seam that the access log, the
//! Prometheus metrics and the OpenTelemetry traces hang on.
//!
//! - [`Exchange`] is one request's record. [`ObserveLayer`] (in the outer
//!   tower stack, inside the request-id and client-address layers and
//!   outside the rescue layer, so it sees every rendered error) creates
//!   it, puts it in the request's extensions, and finishes it when the
//!   response body ends or is dropped (Pingora's logging phase).
//! - The dispatcher names the route on it; the upstream pools report each
//!   attempt on it through [`UpstreamAttempt`], which the upstream request
//!   carries in its extensions.
//! - [`Observers`] is the per-gateway set of sinks a finished exchange is
//!   handed to. It belongs to one running gateway (tests run several in one
//!   process), never to a global.
//! - A request head the connection refuses never becomes an exchange; the
//!   connection reports it as a [`RefusedHead`] to the listener's
//!   [`HeadRefusals`] (the observers), so it is logged and counted too.
//! - [`metrics`] is the Prometheus sink (`GET /metrics` on the admin
//!   listener).
//! - [`trace_context`] injects the W3C trace context into upstream requests.
//! - [`otel`] is the OpenTelemetry trace pipeline and the spans of the
//!   request path; with traces on, the observe layer opens each request's
//!   server span and each `UpstreamAttempt` a client span.

mod attempt;
mod endpoint_name;
mod exchange;
mod layer;
pub mod metrics;
mod observers;
pub mod otel;
mod refused_head;
pub mod trace_context;

pub use attempt::{AttemptOutcome, UpstreamAttempt};
pub use endpoint_name::EndpointName;
pub use exchange::{ErrorCode, Exchange, ExchangeEnd, UpstreamRecord, UpstreamSummary};
pub use layer::{ObserveLayer, ObserveService};
pub use observers::{ExchangeSink, Finished, Observers, observers_for};
pub use refused_head::{HeadRefusals, RefusedHead, SharedRefusals};

#[cfg(test)]
mod tests;
