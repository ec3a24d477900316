//! The thresholds of active health checking, as a pure state machine.
//!
//! An endpoint starts `Pending`: its first check decides (one pass makes
//! it healthy, one failure unhealthy, as Envoy treats a new host). Then a
//! healthy endpoint becomes unhealthy after `unhealthy_threshold`
//! consecutive failures, and an unhealthy one healthy after
//! `healthy_threshold` consecutive passes; a result of the other kind
//! resets the count.

use super::HealthStatus;

#[derive(Debug, Clone)]
pub struct HealthTracker {
    status: HealthStatus,
    /// Consecutive results against the current status.
    streak: u32,
    healthy_threshold: u32,
    unhealthy_threshold: u32,
}

impl HealthTracker {
    pub fn new(healthy_threshold: u32, unhealthy_threshold: u32) -> Self {
        Self {
            status: HealthStatus::Pending,
            streak: 0,
            healthy_threshold: healthy_threshold.max(1),
            unhealthy_threshold: unhealthy_threshold.max(1),
        }
    }

    #[cfg(test)]
    pub fn status(&self) -> HealthStatus {
        self.status
    }

    /// Counts one check; returns the new status when it changed.
    pub fn record(&mut self, passed: bool) -> Option<HealthStatus> {
        let (target, threshold) = match (self.status, passed) {
            (HealthStatus::Pending, true) => (HealthStatus::Healthy, 1),
            (HealthStatus::Pending, false) => (HealthStatus::Unhealthy, 1),
            (HealthStatus::Unhealthy, true) => (HealthStatus::Healthy, self.healthy_threshold),
            (HealthStatus::Healthy | HealthStatus::Unchecked, false) => {
                (HealthStatus::Unhealthy, self.unhealthy_threshold)
            }
            // A result that agrees with the status ends any streak against it.
            _ => {
                self.streak = 0;
                return None;
            }
        };
        self.streak += 1;
        if self.streak < threshold {
            return None;
        }
        self.status = target;
        self.streak = 0;
        Some(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(tracker: &mut HealthTracker, results: &[bool]) -> Vec<Option<HealthStatus>> {
        results
            .iter()
            .map(|passed| tracker.record(*passed))
            .collect()
    }

    #[test]
    fn the_first_check_decides_a_pending_endpoint() {
        let mut up = HealthTracker::new(3, 3);
        assert_eq!(up.record(true), Some(HealthStatus::Healthy));
        let mut down = HealthTracker::new(3, 3);
        assert_eq!(down.record(false), Some(HealthStatus::Unhealthy));
    }

    #[test]
    fn unhealthy_after_the_threshold_of_consecutive_failures() {
        let mut tracker = HealthTracker::new(2, 3);
        tracker.record(true);
        // Two failures, a pass (resets), then three failures.
        let changes = run(&mut tracker, &[false, false, true, false, false, false]);
        assert_eq!(
            changes,
            vec![None, None, None, None, None, Some(HealthStatus::Unhealthy)]
        );
        assert_eq!(tracker.status(), HealthStatus::Unhealthy);
    }

    #[test]
    fn healthy_again_after_the_threshold_of_consecutive_passes() {
        let mut tracker = HealthTracker::new(2, 1);
        tracker.record(false);
        let changes = run(&mut tracker, &[true, false, true, true, true]);
        assert_eq!(
            changes,
            vec![None, None, None, Some(HealthStatus::Healthy), None]
        );
    }

    #[test]
    fn thresholds_of_zero_act_as_one() {
        let mut tracker = HealthTracker::new(0, 0);
        tracker.record(true);
        assert_eq!(tracker.record(false), Some(HealthStatus::Unhealthy));
        assert_eq!(tracker.record(true), Some(HealthStatus::Healthy));
    }
}
