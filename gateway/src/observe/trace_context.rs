//! The W3C trace-context injection seam: every upstream request the
//! gateway sends (proxy, gRPC, composition, GraphQL fetches and
//! subscriptions) passes its headers through [`inject`] once, from the
//! one upstream-request builder (`crate::upstream::outbound`).

/// Writes the current trace context (`traceparent`, `tracestate`,
/// `baggage`) into an upstream request's headers. No tracer is wired in
/// yet, so nothing is written.
pub fn inject(headers: &mut http::HeaderMap) {
    let _ = headers;
}
