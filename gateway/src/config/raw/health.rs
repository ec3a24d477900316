//! Raw serde types of `backends.<name>.health_check` and of a route's
//! `load_shedding`.

use marked_yaml::Spanned;
use serde::Deserialize;

use super::Text;

/// `backends.<name>.health_check:` exactly one of `http`, `grpc`, `tcp`,
/// plus the timing keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHealthCheck {
    pub http: Option<RawHttpProbe>,
    pub grpc: Option<RawGrpcProbe>,
    pub tcp: Option<RawTcpProbe>,
    pub interval: Option<Text>,
    pub jitter: Option<Text>,
    pub timeout: Option<Text>,
    pub healthy_threshold: Option<Spanned<u32>>,
    pub unhealthy_threshold: Option<Spanned<u32>>,
}

/// `health_check.http:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttpProbe {
    pub path: Option<Text>,
    /// Each a status (`204`) or an inclusive range (`"200-399"`).
    pub expected_statuses: Option<Spanned<Vec<Text>>>,
}

/// `health_check.grpc:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGrpcProbe {
    pub service: Option<Text>,
}

/// `health_check.tcp: {}`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTcpProbe {}

/// A route's `load_shedding:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLoadShedding {
    pub max_concurrent_requests: Option<Spanned<u64>>,
    pub queue: Option<Spanned<u64>>,
    pub queue_timeout: Option<Text>,
    pub retry_after: Option<Text>,
    pub adaptive: Option<RawAdaptiveLimit>,
}

/// `load_shedding.adaptive:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdaptiveLimit {
    pub min_concurrent_requests: Option<Spanned<u64>>,
    pub latency_threshold: Option<Text>,
    pub backoff_ratio: Option<Spanned<f64>>,
}
