//! [`TracingPipeline`]: the tracer provider (batch span processor, the
//! edge's sampling ratio, resource) and the `tracing` layer that feeds it.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
};
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::LookupSpan;

use super::export::ExportRuntime;
use super::{LAYERS, TARGET};
use crate::config::model::TracingSettings;

/// How long shutting down may take to export what is left.
const SHUTDOWN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum OtelError {
    #[error("cannot start the trace export thread: {0}")]
    Runtime(std::io::Error),
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
    #[error("exporting traces failed: {0}")]
    Export(String),
}

/// The process's trace pipeline. Dropping it turns traces off and
/// exports what is still queued (within a few seconds).
#[derive(Debug)]
pub struct TracingPipeline {
    provider: SdkTracerProvider,
    /// Whether [`TracingPipeline::layer`] counted this pipeline in.
    layered: AtomicBool,
    /// Declared after `provider`: the exports of its shutdown run here.
    runtime: ExportRuntime,
}

impl TracingPipeline {
    /// Starts the exporter and the provider for `settings` (whether or not
    /// `settings.enabled`: the caller decides).
    pub fn start(settings: &TracingSettings) -> Result<Self, OtelError> {
        super::sampling::set_ratio(settings.sampling_ratio);
        let runtime = ExportRuntime::start()?;
        let exporter = runtime.exporter(&settings.exporter)?;
        let batch = BatchConfigBuilder::default()
            .with_max_queue_size(settings.batch.max_queue_size)
            .with_max_export_batch_size(settings.batch.max_export_batch_size)
            .with_scheduled_delay(settings.batch.scheduled_delay)
            .build();
        let processor = BatchSpanProcessor::builder(exporter)
            .with_batch_config(batch)
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            // The ratio is applied at the edge, before a span exists
            // (`sampling`); every span the SDK is given is kept.
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
            .with_resource(resource(settings))
            .build();
        Ok(Self {
            provider,
            layered: AtomicBool::new(false),
            runtime,
        })
    }

    /// The layer to add to the process's subscriber; from then on the
    /// gateway opens spans. It only sees spans on [`TARGET`].
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
    {
        if !self.layered.swap(true, Ordering::Relaxed) {
            LAYERS.fetch_add(1, Ordering::Relaxed);
        }
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer("gateway"))
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_level(false)
            .with_context_activation(false)
            // No `busy_ns` / `idle_ns` attributes (not semantic
            // conventions): they cost two clock reads and a span lookup on
            // every poll of a sampled request's futures.
            .with_tracked_inactivity(false)
            .with_filter(Targets::new().with_target(TARGET, tracing::Level::TRACE))
    }

    /// Exports every finished span now, and waits for it.
    pub fn force_flush(&self) -> Result<(), OtelError> {
        self.provider
            .force_flush()
            .map_err(|error| OtelError::Export(error.to_string()))
    }
}

impl Drop for TracingPipeline {
    fn drop(&mut self) {
        if self.layered.load(Ordering::Relaxed) {
            LAYERS.fetch_sub(1, Ordering::Relaxed);
        }
        if let Err(error) = self.provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT) {
            tracing::warn!(%error, "traces: the last export failed");
        }
        let _ = &self.runtime;
    }
}

/// `service.name`, then the configured attributes, on top of the SDK's
/// own (`telemetry.sdk.*`) and `OTEL_RESOURCE_ATTRIBUTES`.
fn resource(settings: &TracingSettings) -> Resource {
    Resource::builder()
        .with_service_name(settings.service_name.clone())
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .with_attributes(
            settings
                .resource
                .iter()
                .map(|(key, value)| KeyValue::new(key.clone(), value.clone())),
        )
        .build()
}
