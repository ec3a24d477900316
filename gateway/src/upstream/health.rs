//! Active health checks: one background task per endpoint of a backend
//! with `health_check`, probing it (HTTP GET, `grpc.health.v1` Check, or a
//! TCP connect) every `interval` plus jitter, and moving its
//! [`HealthStatus`] through the thresholds of [`tracker::HealthTracker`].
//!
//! The tasks belong to the [`UpstreamPool`](super::UpstreamPool) that
//! started them: a pool carried over by a reload keeps its checks (and
//! their verdicts); a pool dropped (its backend removed or changed) stops
//! them. The verdict is one atomic on the endpoint ([`HealthCell`]) that
//! the balancer reads; nothing on the request path waits for a check.

mod probe;
mod tracker;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use rand::Rng;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::endpoint::Endpoint;
use crate::config::model::{BackendSpec, HealthCheckSpec};
use probe::Prober;
pub use tracker::HealthTracker;

/// An endpoint's health as active checks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// The backend has no `health_check`: always a candidate.
    Unchecked,
    /// Checked, but no verdict yet: a candidate only when no endpoint is
    /// healthy.
    Pending,
    Healthy,
    /// Out of the balancer until `healthy_threshold` checks pass.
    Unhealthy,
}

/// [`HealthStatus`] as one atomic, shared by the checker and the balancer.
#[derive(Debug)]
pub struct HealthCell(AtomicU8);

impl Default for HealthCell {
    fn default() -> Self {
        Self(AtomicU8::new(HealthStatus::Unchecked as u8))
    }
}

impl HealthCell {
    pub fn get(&self) -> HealthStatus {
        match self.0.load(Ordering::Relaxed) {
            1 => HealthStatus::Pending,
            2 => HealthStatus::Healthy,
            3 => HealthStatus::Unhealthy,
            _ => HealthStatus::Unchecked,
        }
    }

    pub fn set(&self, status: HealthStatus) {
        self.0.store(status as u8, Ordering::Relaxed);
    }

    /// Whether the balancer may pick the endpoint while others are fine.
    pub fn admits(&self) -> bool {
        matches!(self.get(), HealthStatus::Unchecked | HealthStatus::Healthy)
    }
}

/// The running checks of one pool; dropping it stops them.
#[derive(Debug)]
pub struct HealthChecks {
    _stop: DropGuard,
}

impl HealthChecks {
    /// Starts a check task per endpoint, on the current tokio runtime.
    /// Without one (a config check, a synchronous test) no check runs and
    /// the endpoints stay `Unchecked`.
    pub fn start(backend: &BackendSpec, endpoints: &[Arc<Endpoint>]) -> Option<Self> {
        let check = backend.health_check.as_ref()?;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(backend = %backend.name, "no runtime: health checks not started");
            return None;
        };
        let stop = CancellationToken::new();
        let prober = Arc::new(Prober::new(backend, check));
        let backend_name: Arc<str> = Arc::from(backend.name.as_str());
        for endpoint in endpoints {
            endpoint.health().set(HealthStatus::Pending);
            runtime.spawn(run_checks(
                Arc::clone(endpoint),
                Arc::clone(&backend_name),
                check.clone(),
                Arc::clone(&prober),
                stop.clone(),
            ));
        }
        Some(Self {
            _stop: stop.drop_guard(),
        })
    }
}

/// Probes `endpoint` until `stop`, publishing each change of verdict.
async fn run_checks(
    endpoint: Arc<Endpoint>,
    backend: Arc<str>,
    check: HealthCheckSpec,
    prober: Arc<Prober>,
    stop: CancellationToken,
) {
    let mut tracker = HealthTracker::new(check.healthy_threshold, check.unhealthy_threshold);
    loop {
        let probe = tokio::time::timeout(check.timeout, prober.probe(&endpoint.base));
        let outcome = tokio::select! {
            () = stop.cancelled() => return,
            outcome = probe => outcome.unwrap_or_else(|_| {
                Err(format!("no answer within {:?}", check.timeout))
            }),
        };
        if let Some(status) = tracker.record(outcome.is_ok()) {
            endpoint.health().set(status);
            log_change(&backend, &endpoint.label, status, outcome.err());
        }
        let pause = next_pause(check.interval, check.jitter, &mut rand::rng());
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

fn log_change(backend: &str, endpoint: &str, status: HealthStatus, reason: Option<String>) {
    match (status, reason) {
        (HealthStatus::Unhealthy, Some(reason)) => {
            tracing::warn!(backend, endpoint, %reason, "health check: endpoint is unhealthy, out of the balancer");
        }
        _ => tracing::info!(backend, endpoint, "health check: endpoint is healthy"),
    }
}

/// `interval` plus a uniformly random extra wait in `[0, jitter]`.
pub fn next_pause(interval: Duration, jitter: Duration, rng: &mut impl Rng) -> Duration {
    let jitter_nanos = u64::try_from(jitter.as_nanos()).unwrap_or(u64::MAX);
    if jitter_nanos == 0 {
        return interval;
    }
    interval.saturating_add(Duration::from_nanos(rng.random_range(0..=jitter_nanos)))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn pauses_stay_within_interval_plus_jitter_and_vary() {
        let mut rng = StdRng::seed_from_u64(3);
        let (interval, jitter) = (Duration::from_secs(5), Duration::from_millis(500));
        let pauses: Vec<Duration> = (0..200)
            .map(|_| next_pause(interval, jitter, &mut rng))
            .collect();
        assert!(
            pauses
                .iter()
                .all(|p| *p >= interval && *p <= interval + jitter)
        );
        assert!(pauses.iter().any(|p| *p != pauses[0]));
        assert_eq!(next_pause(interval, Duration::ZERO, &mut rng), interval);
        assert_eq!(
            next_pause(Duration::MAX, Duration::MAX, &mut rng),
            Duration::MAX
        );
    }

    #[test]
    fn the_cell_admits_only_unchecked_and_healthy() {
        let cell = HealthCell::default();
        for (status, admits) in [
            (HealthStatus::Unchecked, true),
            (HealthStatus::Pending, false),
            (HealthStatus::Healthy, true),
            (HealthStatus::Unhealthy, false),
        ] {
            cell.set(status);
            assert_eq!(cell.get(), status);
            assert_eq!(cell.admits(), admits, "{status:?}");
        }
    }
}
