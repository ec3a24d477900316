//! The W3C trace-context seam: `traceparent` / `tracestate` and `baggage`
//! extracted from the client ([`extract`], by the server span) and written
//! into every upstream request ([`inject`] with the current span, or
//! [`inject_span`] with an attempt's client span). Nothing happens while
//! traces are off: a client's own headers then pass as any other header.

use std::sync::LazyLock;

use http::HeaderMap;
use opentelemetry::Context;
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::otel;
use super::otel::sampling::UnsampledTrace;

/// W3C Trace Context, then W3C Baggage.
static PROPAGATOR: LazyLock<TextMapCompositePropagator> = LazyLock::new(|| {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
});

/// Writes `traceparent` / `tracestate` / `baggage` for the current span
/// into an upstream request's headers (replacing the client's: the
/// upstream's parent is the gateway's span). A request the edge did not
/// sample opened no span: its upstream requests carry the `traceparent`
/// the edge put in its extensions (the client's, or a new trace's), flag off.
pub fn inject(headers: &mut HeaderMap, unsampled: Option<&UnsampledTrace>) {
    if !otel::enabled() {
        return;
    }
    // An unsampled request opened no span, so there is no current span to
    // look up (the lookup, through the subscriber's registry, cost more
    // than the insert).
    if let Some(trace) = unsampled {
        headers.insert(TRACEPARENT, trace.traceparent());
        return;
    }
    let current = Span::current();
    if otel::is_trace_span(&current) {
        inject_span(&current, headers);
    }
}

const TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");

/// Like [`inject`], with `span` as the upstream's parent.
pub fn inject_span(span: &Span, headers: &mut HeaderMap) {
    if span.is_none() {
        return;
    }
    let context = span.context();
    if context.span().span_context().is_valid() {
        PROPAGATOR.inject_context(&context, &mut HeaderInjector(headers));
    }
}

/// The caller's trace context (and baggage) from a request's headers;
/// empty when it sent none, or a malformed one (a new trace starts).
pub fn extract(headers: &HeaderMap) -> Context {
    PROPAGATOR.extract(&HeaderExtractor(headers))
}
