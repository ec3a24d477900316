//! OpenTelemetry traces (docs/observability.md, "Traces").
//!
//! One pipeline per process, as one global `tracing` subscriber is: the
//! binary builds a [`TracingPipeline`] from routes.yaml's `tracing:`
//! section when it starts and adds [`TracingPipeline::layer`] to its
//! subscriber. Gateway spans are `tracing` spans on their own target,
//! [`TARGET`], which only the OpenTelemetry layer listens to.
//!
//! **Sampling is decided before any span exists** ([`sampling`]): an
//! unsampled request opens no span, and its child spans (opened only
//! inside a gateway trace span) none either.
//!
//! **Off costs nothing.** Every span of the request path is opened with
//! [`otel_span!`], which checks one process-wide flag first (a relaxed
//! atomic load) and hands out `Span::none()` when no pipeline is
//! installed: no span is created, nothing is recorded, no header is
//! written.
//!
//! The span constructors and recorders of each stage live in [`spans`];
//! W3C context propagation in `super::trace_context`.

mod export;
mod pipeline;
pub mod sampling;
pub mod spans;

use std::sync::atomic::{AtomicUsize, Ordering};

pub use pipeline::{OtelError, TracingPipeline};

/// The `tracing` target of every gateway span.
pub const TARGET: &str = "otel";

/// How many pipelines have a layer out (one in the binary).
static LAYERS: AtomicUsize = AtomicUsize::new(0);

/// Whether traces are on in this process.
#[inline]
pub fn enabled() -> bool {
    LAYERS.load(Ordering::Relaxed) > 0
}

/// The level of every trace span. Not `TRACE` (nor `DEBUG`): a dependency
/// (hive-router-query-planner) turns on tracing's `release_max_level_debug`,
/// which compiles `TRACE` spans out of release builds, and traces then
/// silently export nothing. The log filter never shows [`TARGET`] anyway.
pub const SPAN_LEVEL: tracing::Level = tracing::Level::INFO;

/// Whether `span` is a gateway trace span (so the request it belongs to
/// was sampled: see [`sampling`]).
#[inline]
pub fn is_trace_span(span: &tracing::Span) -> bool {
    span.metadata().is_some_and(|meta| meta.target() == TARGET)
}

/// Whether the current span is a gateway trace span: a child span is only
/// opened inside a sampled request's trace.
#[inline]
pub fn in_sampled_trace() -> bool {
    enabled() && is_trace_span(&tracing::Span::current())
}

/// Opens a child span on [`TARGET`] at [`SPAN_LEVEL`] when the current
/// span is a gateway trace span (traces on, and the request sampled),
/// `Span::none()` otherwise; the fields are only evaluated then. With
/// `root:` first, opens the server span of a sampled request (traces on).
/// Same syntax as `tracing::info_span!` after the target.
macro_rules! otel_span {
    (root: $name:literal $(, $($fields:tt)*)?) => {
        if $crate::observe::otel::enabled() {
            ::tracing::span!(target: "otel", $crate::observe::otel::SPAN_LEVEL, $name $(, $($fields)*)?)
        } else {
            ::tracing::Span::none()
        }
    };
    ($name:literal $(, $($fields:tt)*)?) => {
        if $crate::observe::otel::in_sampled_trace() {
            ::tracing::span!(target: "otel", $crate::observe::otel::SPAN_LEVEL, $name $(, $($fields)*)?)
        } else {
            ::tracing::Span::none()
        }
    };
}
pub(crate) use otel_span;

#[cfg(test)]
mod level_tests {
    /// Holds in every profile the tests run in (`cargo test --release`
    /// included): a span level above the static maximum is compiled out.
    #[test]
    fn trace_spans_are_not_compiled_out() {
        assert!(super::SPAN_LEVEL <= tracing::level_filters::STATIC_MAX_LEVEL);
    }
}
