//! `tracing:`, compiled: where and how the gateway exports its
//! OpenTelemetry traces. Read when the process starts; a reload that
//! changes it is logged and takes effect at the next restart.

use std::time::Duration;

/// The OpenTelemetry trace pipeline's settings. Off by default.
#[derive(Debug, Clone, PartialEq)]
pub struct TracingSettings {
    pub enabled: bool,
    /// The `service.name` resource attribute.
    pub service_name: String,
    /// More resource attributes, in file order.
    pub resource: Vec<(String, String)>,
    /// Parent-based ratio sampling: a request that arrives with a
    /// `traceparent` follows its caller's decision; a new trace is sampled
    /// with this probability (0.0 to 1.0).
    pub sampling_ratio: f64,
    pub exporter: ExporterSettings,
    pub batch: BatchSettings,
}

/// OTLP exporter settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ExporterSettings {
    pub protocol: OtlpProtocol,
    /// gRPC: the collector's URL (`http://collector:4317`, or `https://`
    /// with TLS). HTTP: the
    /// full URL of the trace endpoint (`http://collector:4318/v1/traces`;
    /// a URL without a path gets `/v1/traces`).
    pub endpoint: String,
    /// Longest one export may take.
    pub timeout: Duration,
    /// Sent with every export: gRPC metadata or HTTP headers (lower case).
    pub headers: Vec<(String, String)>,
    /// For an `https://` endpoint: trusted roots (`None`: the system's
    /// trust store), SNI name and client certificate, as for backends.
    pub tls: super::tls::BackendTls,
}

impl ExporterSettings {
    /// Whether the endpoint is an `https://` URL.
    pub fn uses_tls(&self) -> bool {
        is_https_url(&self.endpoint)
    }
}

/// Whether `url` is an `https://` URL (the scheme in any letter case).
pub fn is_https_url(url: &str) -> bool {
    url.parse::<http::Uri>()
        .is_ok_and(|uri| uri.scheme() == Some(&http::uri::Scheme::HTTPS))
}

/// How spans travel to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// OTLP over gRPC (port 4317 by convention).
    Grpc,
    /// OTLP over HTTP with protobuf bodies (port 4318 by convention).
    HttpProtobuf,
}

/// The batch span processor's bounds: finished spans wait in a bounded
/// queue (full: new spans are dropped, never waited for) and are sent in
/// batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSettings {
    pub max_queue_size: usize,
    pub max_export_batch_size: usize,
    pub scheduled_delay: Duration,
}

pub const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
pub const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318/v1/traces";

impl Default for TracingSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            service_name: "gateway".to_owned(),
            resource: Vec::new(),
            sampling_ratio: 1.0,
            exporter: ExporterSettings {
                protocol: OtlpProtocol::Grpc,
                endpoint: DEFAULT_GRPC_ENDPOINT.to_owned(),
                timeout: Duration::from_secs(10),
                headers: Vec::new(),
                tls: super::tls::BackendTls::default(),
            },
            batch: BatchSettings::default(),
        }
    }
}

/// How long a finished span waits, at most, before its batch is sent.
///
/// Shorter than the OpenTelemetry SDK's 5 s, because of a measurement: at
/// 1% sampling a sampled request then cost about three times its cost at
/// 100% (every finished span's data, allocated on a worker, stayed alive
/// for up to 5 s and was freed in bursts on the exporter's thread, and
/// the workers' allocations went cold); with 250 ms, tracing at 1% cost
/// +3.4% of CPU per request against +5.1% (docs/latency-comparison.md).
/// Much shorter costs more again: 20 ms gave +5.3%.
pub const DEFAULT_SCHEDULED_DELAY: Duration = Duration::from_millis(250);

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            max_queue_size: 2048,
            max_export_batch_size: 512,
            scheduled_delay: DEFAULT_SCHEDULED_DELAY,
        }
    }
}
