//! The W3C trace-context seam: every upstream request of every handler
//! kind passes its headers through [`inject`] once, in the one place that
//! builds upstream requests.

/// Writes `traceparent` / `tracestate` / `baggage` for the current span
/// into an upstream request's headers.
pub fn inject(headers: &mut http::HeaderMap) {
    // Filled in by the OpenTelemetry work (issue 11 §3); until then no
    // span context exists to propagate.
    let _ = headers;
}
