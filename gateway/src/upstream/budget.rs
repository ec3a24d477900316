//! A backend's retry budget (linkerd's and Envoy's): over the last
//! [`RetryBudget::WINDOW`], retries may add at most `ratio` of the
//! requests plus `min_per_second` retries per second of the window. Under
//! a total outage this keeps retries from multiplying the load. Atomics
//! only ([`SlidingCounter`]).

use std::time::Instant;

use super::window::SlidingCounter;
use crate::config::model::RetryBudget;

#[derive(Debug)]
pub struct RetryBudgetState {
    policy: RetryBudget,
    requests: SlidingCounter,
    retries: SlidingCounter,
    /// Retries refused since the pool was built (for `/upstreams`).
    refused: std::sync::atomic::AtomicU64,
}

/// The budget as `/upstreams` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BudgetState {
    pub ratio: f64,
    pub min_per_second: u32,
    pub requests_in_window: u64,
    pub retries_in_window: u64,
    pub retries_refused: u64,
}

impl RetryBudgetState {
    pub fn new(policy: RetryBudget, epoch: Instant) -> Self {
        Self {
            policy,
            requests: SlidingCounter::new(RetryBudget::WINDOW, epoch),
            retries: SlidingCounter::new(RetryBudget::WINDOW, epoch),
            refused: Default::default(),
        }
    }

    /// Counts a client request (its first attempt) towards the budget.
    pub fn record_request(&self, now: Instant) {
        self.requests.add(now);
    }

    /// Takes one retry from the budget; false when it is spent.
    pub fn try_retry(&self, now: Instant) -> bool {
        let floor = u64::from(self.policy.min_per_second) * RetryBudget::WINDOW.as_secs();
        let allowed = (self.policy.ratio * self.requests.sum(now) as f64) as u64 + floor;
        if self.retries.sum(now) >= allowed {
            self.refused
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return false;
        }
        self.retries.add(now);
        true
    }

    pub fn state(&self, now: Instant) -> BudgetState {
        BudgetState {
            ratio: self.policy.ratio,
            min_per_second: self.policy.min_per_second,
            requests_in_window: self.requests.sum(now),
            retries_in_window: self.retries.sum(now),
            retries_refused: self.refused.load(std::sync::atomic::Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn retries_are_a_fraction_of_requests_plus_the_floor() {
        let epoch = Instant::now();
        let budget = RetryBudgetState::new(
            RetryBudget {
                ratio: 0.2,
                min_per_second: 1,
            },
            epoch,
        );
        for _ in 0..100 {
            budget.record_request(epoch);
        }
        // 20% of 100, plus 1/s over the 10 s window.
        let granted = (0..100).filter(|_| budget.try_retry(epoch)).count();
        assert_eq!(granted, 30);
        assert_eq!(budget.state(epoch).retries_refused, 70);
        // Once the window has passed, only the floor is left.
        let later = epoch + Duration::from_secs(11);
        let granted = (0..100).filter(|_| budget.try_retry(later)).count();
        assert_eq!(granted, 10);
    }

    #[test]
    fn a_zero_budget_allows_only_the_floor() {
        let epoch = Instant::now();
        let budget = RetryBudgetState::new(
            RetryBudget {
                ratio: 0.0,
                min_per_second: 0,
            },
            epoch,
        );
        budget.record_request(epoch);
        assert!(!budget.try_retry(epoch));
    }
}
