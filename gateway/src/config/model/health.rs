//! Active health checks (`backends.<name>.health_check`) and load
//! shedding (a route's `load_shedding`), compiled: plain data.

use std::ops::RangeInclusive;
use std::time::Duration;

/// How a backend's endpoints are probed, and how often.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheckSpec {
    pub probe: HealthProbe,
    /// Time between the end of one check and the start of the next.
    pub interval: Duration,
    /// Plus a uniformly random extra wait in `[0, jitter]`, so the checks
    /// of many gateways do not arrive in step.
    pub jitter: Duration,
    /// A check that has not succeeded after this long fails.
    pub timeout: Duration,
    /// Consecutive successes that bring an unhealthy endpoint back.
    pub healthy_threshold: u32,
    /// Consecutive failures that take a healthy endpoint out.
    pub unhealthy_threshold: u32,
}

/// What one check does.
#[derive(Debug, Clone, PartialEq)]
pub enum HealthProbe {
    /// `GET path`; healthy when the status is in one of the ranges.
    Http {
        path: String,
        expected_statuses: Vec<RangeInclusive<u16>>,
    },
    /// `grpc.health.v1.Health/Check` over h2c; healthy when `SERVING`.
    /// `service` empty asks about the server as a whole.
    Grpc { service: String },
    /// A TCP connect; healthy when it is accepted.
    Tcp,
}

/// A route's concurrency limit, its queue, and how a refusal reads.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSheddingSpec {
    /// Most requests the route serves at once (with `adaptive`, the
    /// highest the limit may grow to, and where it starts).
    pub max_concurrent_requests: usize,
    /// Requests that may wait for a free slot; more are refused at once.
    pub queue: usize,
    /// How long a queued request waits before it is refused.
    pub queue_timeout: Duration,
    /// The `Retry-After` a refused client reads, in whole seconds.
    pub retry_after_secs: u64,
    pub adaptive: Option<AdaptiveLimitSpec>,
}

/// AIMD on latency: the limit grows by one while responses are fast and
/// the limit is in use, and is multiplied by `backoff_ratio` when a
/// response is slower than `latency_threshold` or fails.
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptiveLimitSpec {
    pub min_concurrent_requests: usize,
    pub latency_threshold: Duration,
    /// In `(0, 1)`.
    pub backoff_ratio: f64,
}
