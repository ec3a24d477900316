//! One backend URL with its load and health, shared by every request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::Uri;

use super::health::HealthCell;
use crate::config::model::EjectionPolicy;

/// A backend URL, its in-flight count and its passive-ejection state.
#[derive(Debug)]
pub struct Endpoint {
    pub base: Uri,
    /// `base` as text, for logs, metrics and traces.
    pub label: Arc<str>,
    in_flight: AtomicUsize,
    consecutive_failures: AtomicU32,
    /// Connect failures and ejections since the pool was built (metrics).
    connect_failures: AtomicU64,
    ejections: AtomicU64,
    /// Nanoseconds after `epoch` until which the endpoint is ejected.
    ejected_until: AtomicU64,
    epoch: Instant,
    /// Active health checks' verdict (`upstream::health`), apart from
    /// passive ejection.
    health: HealthCell,
}

impl Endpoint {
    pub fn new(base: Uri, epoch: Instant) -> Self {
        Self {
            label: Arc::from(base.to_string()),
            base,
            in_flight: AtomicUsize::new(0),
            consecutive_failures: AtomicU32::new(0),
            connect_failures: AtomicU64::new(0),
            ejections: AtomicU64::new(0),
            ejected_until: AtomicU64::new(0),
            epoch,
            health: HealthCell::default(),
        }
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn is_available(&self, now: Instant) -> bool {
        self.nanos(now) >= self.ejected_until.load(Ordering::Relaxed)
    }

    pub fn health(&self) -> &HealthCell {
        &self.health
    }

    /// Counts one request until the guard drops.
    pub fn start_request(self: &Arc<Self>) -> InFlightGuard {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlightGuard(Arc::clone(self))
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures.load(Ordering::Relaxed)
    }

    pub fn connect_failures(&self) -> u64 {
        self.connect_failures.load(Ordering::Relaxed)
    }

    pub fn ejections(&self) -> u64 {
        self.ejections.load(Ordering::Relaxed)
    }

    pub fn record_success(&self) {
        self.consecutive_failures.store(0, Ordering::Relaxed);
    }

    /// Records a connect failure; returns true if this ejected the endpoint.
    pub fn record_connect_failure(&self, policy: &EjectionPolicy, now: Instant) -> bool {
        self.connect_failures.fetch_add(1, Ordering::Relaxed);
        let failures = self
            .consecutive_failures
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        if policy.consecutive_failures == 0 || failures < policy.consecutive_failures {
            return false;
        }
        if self.is_available(now) {
            // Counted when the endpoint leaves the rotation, not when an
            // ejection is extended.
            self.ejections.fetch_add(1, Ordering::Relaxed);
        }
        self.ejected_until
            .store(self.ejection_end(policy.cooldown, now), Ordering::Relaxed);
        true
    }

    /// `now + cooldown` in nanoseconds since the epoch; a cooldown too large
    /// to add (a huge configured value) ejects until the far future
    /// (`u64::MAX` ns, about 584 years) instead of overflowing.
    fn ejection_end(&self, cooldown: Duration, now: Instant) -> u64 {
        self.nanos(now).saturating_add(duration_nanos(cooldown))
    }

    fn nanos(&self, now: Instant) -> u64 {
        duration_nanos(now.saturating_duration_since(self.epoch))
    }
}

fn duration_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Decrements the endpoint's in-flight count when dropped (when the
/// response body is finished or abandoned).
#[derive(Debug)]
pub struct InFlightGuard(Arc<Endpoint>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(cooldown: Duration) -> EjectionPolicy {
        EjectionPolicy {
            consecutive_failures: 1,
            cooldown,
        }
    }

    #[test]
    fn a_huge_cooldown_ejects_until_the_far_future_without_overflow() {
        let epoch = Instant::now();
        let endpoint = Endpoint::new(Uri::from_static("http://a"), epoch);
        let later = epoch + Duration::from_secs(3600);
        assert!(endpoint.record_connect_failure(&policy(Duration::MAX), later));
        assert_eq!(endpoint.ejected_until.load(Ordering::Relaxed), u64::MAX);
        assert!(!endpoint.is_available(later + Duration::from_secs(365 * 24 * 3600)));
    }

    #[test]
    fn an_ordinary_cooldown_ends() {
        let epoch = Instant::now();
        let endpoint = Endpoint::new(Uri::from_static("http://a"), epoch);
        assert!(endpoint.record_connect_failure(&policy(Duration::from_secs(10)), epoch));
        assert!(!endpoint.is_available(epoch + Duration::from_secs(9)));
        assert!(endpoint.is_available(epoch + Duration::from_secs(10)));
    }
}
