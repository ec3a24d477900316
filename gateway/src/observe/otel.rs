//! OpenTelemetry traces (docs/observability.md, "Traces").
//!
//! One pipeline per process, as one global `tracing` subscriber is: the
//! binary builds a [`TracingPipeline`] from routes.yaml's `tracing:`
//! section when it starts and adds [`TracingPipeline::layer`] to its
//! subscriber. Gateway spans are `tracing` spans on their own target,
//! [`TARGET`], which only the OpenTelemetry layer listens to.
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

/// Opens a span on [`TARGET`] when traces are on, `Span::none()`
/// otherwise; the fields are only evaluated when on. Same syntax as
/// `tracing::trace_span!` after the target.
macro_rules! otel_span {
    ($name:literal $(, $($fields:tt)*)?) => {
        if $crate::observe::otel::enabled() {
            ::tracing::trace_span!(target: "otel", $name $(, $($fields)*)?)
        } else {
            ::tracing::Span::none()
        }
    };
}
pub(crate) use otel_span;
