//! A subscriber's injected faults: fail the next N deliveries, or all of
//! them, with a status (5xx: the gateway retries; 4xx: it dead-letters),
//! and delay each delivery.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What the subscriber does to the deliveries it receives.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubscriberFaults {
    /// Fail this many of the next deliveries (counted down).
    pub fail_next: u32,
    /// Fail every delivery (while set).
    pub fail_all: bool,
    /// The failing status (default 503).
    pub status: Option<u16>,
    /// Wait this long before answering each delivery, in milliseconds.
    pub delay_ms: u64,
}

impl SubscriberFaults {
    pub fn delay(&self) -> Duration {
        Duration::from_millis(self.delay_ms)
    }

    /// The status a failing delivery gets.
    pub fn failure_status(&self) -> http::StatusCode {
        self.status
            .and_then(|code| http::StatusCode::from_u16(code).ok())
            .unwrap_or(http::StatusCode::SERVICE_UNAVAILABLE)
    }

    /// Whether the next delivery fails; counts `fail_next` down.
    pub fn take_failure(&mut self) -> bool {
        if self.fail_all {
            return true;
        }
        if self.fail_next > 0 {
            self.fail_next -= 1;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_next_counts_down_and_fail_all_stays() {
        let mut faults = SubscriberFaults {
            fail_next: 2,
            ..Default::default()
        };
        assert!(faults.take_failure());
        assert!(faults.take_failure());
        assert!(!faults.take_failure());
        faults.fail_all = true;
        assert!((0..5).all(|_| faults.take_failure()));
        assert_eq!(
            faults.failure_status(),
            http::StatusCode::SERVICE_UNAVAILABLE
        );
        faults.status = Some(422);
        assert_eq!(faults.failure_status().as_u16(), 422);
    }
}
