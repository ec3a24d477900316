//! Raw serde types of the resilience keys: `retry:` (on a backend, a
//! route, a composition call or a subgraph's traffic shaping),
//! `retry_budget:` and `circuit_breaker:`. Checked in
//! `compile/resilience.rs`.

use marked_yaml::Spanned;
use serde::Deserialize;

use super::Text;

/// `retry:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetry {
    pub max_attempts: Option<Spanned<u32>>,
    /// Conditions (`connect_failure`, `reset`, `timeout`), status classes
    /// (`5xx`, `gateway_error`) and statuses (`503`).
    pub retry_on: Option<Vec<Text>>,
    /// gRPC status names (`UNAVAILABLE`, `RESOURCE_EXHAUSTED`, …).
    pub grpc_codes: Option<Vec<Text>>,
    pub per_try_timeout: Option<Text>,
    pub backoff: Option<RawBackoff>,
    pub non_idempotent: Option<bool>,
    pub max_buffered_body: Option<Text>,
}

/// `retry.backoff:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBackoff {
    pub base: Option<Text>,
    pub max: Option<Text>,
}

/// `retry_budget:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetryBudget {
    pub ratio: Option<Spanned<f64>>,
    pub min_per_second: Option<Spanned<u32>>,
}

/// `circuit_breaker:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCircuitBreaker {
    pub consecutive_failures: Option<Spanned<u32>>,
    pub open_for: Option<Text>,
    pub half_open_probes: Option<Spanned<u32>>,
    pub max_pending: Option<Spanned<u64>>,
}
