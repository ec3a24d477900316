//! One backend URL with its load and health, shared by every request:
//! in-flight count, consecutive failures, the failure ratio over a
//! sliding window, and passive ejection with a cool-down that grows with
//! repeated ejections (the decision to eject, which looks at every
//! endpoint, is `outlier`'s).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::Uri;

use super::health::HealthCell;
use super::window::SlidingCounter;
use crate::config::model::{EjectionPolicy, OutlierPolicy};

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
    /// Attempts and failed attempts over the outlier window.
    window_attempts: SlidingCounter,
    window_failures: SlidingCounter,
    /// Ejections in a row (the cool-down multiplier) and when the last
    /// one ended, in nanoseconds after `epoch`.
    ejection_streak: AtomicU32,
    last_ejection_end: AtomicU64,
    /// Set while ejected, so the return to rotation is logged once.
    out_of_rotation: AtomicBool,
}

impl Endpoint {
    /// An endpoint with the default outlier window.
    #[cfg(test)]
    pub fn new(base: Uri, epoch: Instant) -> Self {
        Self::with_window(base, epoch, OutlierPolicy::default().window)
    }

    /// An endpoint whose failure ratio is counted over `window`.
    pub fn with_window(base: Uri, epoch: Instant, window: Duration) -> Self {
        Self {
            window_attempts: SlidingCounter::new(window, epoch),
            window_failures: SlidingCounter::new(window, epoch),
            ejection_streak: AtomicU32::new(0),
            last_ejection_end: AtomicU64::new(0),
            out_of_rotation: AtomicBool::new(false),
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
        let available = self.nanos(now) >= self.ejected_until.load(Ordering::Relaxed);
        if available
            && self.out_of_rotation.load(Ordering::Relaxed)
            && self.out_of_rotation.swap(false, Ordering::Relaxed)
        {
            tracing::info!(endpoint = %self.label, "endpoint back in rotation after its cool-down");
        }
        available
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

    /// Records a successful attempt for outlier detection.
    pub fn record_attempt_success(&self, now: Instant) {
        self.window_attempts.add(now);
        self.record_success();
    }

    /// Records a failed attempt (connect failure, reset, timeout, 5xx);
    /// returns the consecutive failures so far.
    pub fn record_attempt_failure(&self, now: Instant) -> u32 {
        self.window_attempts.add(now);
        self.window_failures.add(now);
        self.consecutive_failures
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1)
    }

    /// Counts a connect failure (for `/upstreams`), without ejecting.
    pub fn count_connect_failure(&self) {
        self.connect_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether the window holds enough attempts and too many failed.
    pub fn failure_ratio_exceeded(&self, policy: &OutlierPolicy, now: Instant) -> bool {
        let attempts = self.window_attempts.sum(now);
        attempts >= u64::from(policy.min_requests)
            && self.window_failures.sum(now) as f64 >= policy.failure_ratio * attempts as f64
    }

    /// The failure ratio over the window (for `/upstreams`).
    pub fn failure_ratio(&self, now: Instant) -> f64 {
        let attempts = self.window_attempts.sum(now);
        if attempts == 0 {
            return 0.0;
        }
        self.window_failures.sum(now) as f64 / attempts as f64
    }

    /// Ejects the endpoint for `cooldown` × the ejections in a row (the
    /// streak restarts when the last ejection ended more than
    /// `max_cooldown` ago), at most `max_cooldown`; returns the cool-down.
    pub fn eject(&self, cooldown: Duration, outlier: &OutlierPolicy, now: Instant) -> Duration {
        let at = self.nanos(now);
        let quiet_since = self.last_ejection_end.load(Ordering::Relaxed);
        let streak = if at.saturating_sub(quiet_since) > duration_nanos(outlier.max_cooldown) {
            self.ejection_streak.store(1, Ordering::Relaxed);
            1
        } else {
            self.ejection_streak
                .fetch_add(1, Ordering::Relaxed)
                .saturating_add(1)
        };
        let cooldown = cooldown
            .saturating_mul(streak)
            .min(outlier.max_cooldown.max(cooldown));
        let end = self.ejection_end(cooldown, now);
        self.ejected_until.store(end, Ordering::Relaxed);
        self.last_ejection_end.store(end, Ordering::Relaxed);
        self.ejections.fetch_add(1, Ordering::Relaxed);
        self.out_of_rotation.store(true, Ordering::Relaxed);
        cooldown
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
