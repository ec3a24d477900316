//! Raw serde types for the top-level `tracing:` section (OpenTelemetry
//! traces). Compiled in `compile/tracing.rs`.

use marked_yaml::Spanned;
use serde::Deserialize;

use super::raw::{OrderedPairs, Text};

/// `tracing:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTracing {
    pub enabled: Option<Spanned<bool>>,
    pub service_name: Option<Text>,
    /// Extra resource attributes (`deployment.environment: prod`).
    #[serde(default)]
    pub resource: OrderedPairs<Text, Text>,
    pub sampling: Option<RawSampling>,
    pub exporter: Option<RawExporter>,
    pub batch: Option<RawBatch>,
}

/// `tracing.sampling:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSampling {
    pub ratio: Option<Spanned<f64>>,
}

/// `tracing.exporter:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExporter {
    pub protocol: Option<Spanned<RawOtlpProtocol>>,
    pub endpoint: Option<Text>,
    pub timeout: Option<Text>,
    /// Sent with every export (gRPC metadata or HTTP headers).
    #[serde(default)]
    pub headers: OrderedPairs<Text, Text>,
    /// For an `https://` endpoint: the collector's CA, SNI name and a
    /// client certificate, as a backend's `tls:`.
    pub tls: Option<super::raw_tls::RawBackendTls>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawOtlpProtocol {
    Grpc,
    Http,
}

/// `tracing.batch:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBatch {
    pub max_queue_size: Option<Spanned<u64>>,
    pub max_export_batch_size: Option<Spanned<u64>>,
    pub scheduled_delay: Option<Text>,
}
