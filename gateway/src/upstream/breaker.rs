//! A backend's circuit breaker: closed, open, half-open with a few
//! probes. Atomics only. It opens when every endpoint is failing (the pool
//! decides that, see `UpstreamPool`), stays open `open_for`, then lets
//! `half_open_probes` requests through: as many successes close it, one
//! failure opens it again. A probe that never reports (its request was
//! cancelled) counts as a failure, so the breaker cannot stay half-open
//! with no probe left. Each change of state is logged once, by the thread
//! that made it.

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::config::model::BreakerPolicy;

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

/// The breaker's state as `/upstreams` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug)]
pub struct CircuitBreaker {
    policy: BreakerPolicy,
    backend: std::sync::Arc<str>,
    state: AtomicU8,
    /// Nanoseconds after `epoch` when an open breaker turns half-open.
    open_until: AtomicU64,
    probes_started: AtomicU32,
    probe_successes: AtomicU32,
    /// Times the breaker opened since the pool was built.
    opened: AtomicU64,
    epoch: Instant,
}

/// Whether a request may go.
#[derive(Debug)]
pub enum Admission<'a> {
    /// It may; report how it went on the ticket.
    Allowed(Ticket<'a>),
    /// Fail fast; the breaker half-opens in about this long.
    Rejected { retry_after: Duration },
}

/// One admitted attempt; a probe when the breaker is half-open.
#[derive(Debug)]
pub struct Ticket<'a> {
    breaker: &'a CircuitBreaker,
    probe: bool,
    reported: bool,
}

impl Ticket<'_> {
    /// Reports the attempt's outcome. `all_failing`: after it, every
    /// endpoint of the backend is failing.
    pub fn report(mut self, success: bool, all_failing: bool, now: Instant) {
        self.reported = true;
        self.breaker.report(self.probe, success, all_failing, now);
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.reported && self.probe {
            self.breaker.report(true, false, false, Instant::now());
        }
    }
}

impl CircuitBreaker {
    pub fn new(policy: BreakerPolicy, backend: &str, epoch: Instant) -> Self {
        Self {
            policy,
            backend: std::sync::Arc::from(backend),
            state: AtomicU8::new(CLOSED),
            open_until: AtomicU64::new(0),
            probes_started: AtomicU32::new(0),
            probe_successes: AtomicU32::new(0),
            opened: AtomicU64::new(0),
            epoch,
        }
    }

    pub fn policy(&self) -> &BreakerPolicy {
        &self.policy
    }

    pub fn state(&self, now: Instant) -> BreakerState {
        match self.state.load(Ordering::Acquire) {
            CLOSED => BreakerState::Closed,
            OPEN if self.nanos(now) >= self.open_until.load(Ordering::Acquire) => {
                BreakerState::HalfOpen
            }
            OPEN => BreakerState::Open,
            _ => BreakerState::HalfOpen,
        }
    }

    /// Times the breaker opened.
    pub fn times_opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// Admits an attempt, or refuses it while open (and past the probes
    /// while half-open).
    pub fn admit(&self, now: Instant) -> Admission<'_> {
        let mut state = self.state.load(Ordering::Acquire);
        if state == OPEN {
            let until = self.open_until.load(Ordering::Acquire);
            let at = self.nanos(now);
            if at < until {
                return Admission::Rejected {
                    retry_after: Duration::from_nanos(until - at),
                };
            }
            if self
                .state
                .compare_exchange(OPEN, HALF_OPEN, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                tracing::info!(backend = %self.backend, "circuit breaker half-open: probing");
            }
            state = HALF_OPEN;
        }
        if state == CLOSED {
            return Admission::Allowed(self.ticket(false));
        }
        if self.probes_started.fetch_add(1, Ordering::AcqRel) < self.policy.half_open_probes {
            return Admission::Allowed(self.ticket(true));
        }
        Admission::Rejected {
            retry_after: Duration::from_secs(1),
        }
    }

    fn ticket(&self, probe: bool) -> Ticket<'_> {
        Ticket {
            breaker: self,
            probe,
            reported: false,
        }
    }

    fn report(&self, probe: bool, success: bool, all_failing: bool, now: Instant) {
        match self.state.load(Ordering::Acquire) {
            HALF_OPEN if probe && success => {
                let successes = self.probe_successes.fetch_add(1, Ordering::AcqRel) + 1;
                if successes >= self.policy.half_open_probes
                    && self
                        .state
                        .compare_exchange(HALF_OPEN, CLOSED, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                {
                    tracing::info!(backend = %self.backend, "circuit breaker closed: the probes succeeded");
                }
            }
            HALF_OPEN if probe => self.trip(HALF_OPEN, now, "a probe failed"),
            CLOSED if !success && all_failing => {
                self.trip(CLOSED, now, "every endpoint is failing")
            }
            _ => {}
        }
    }

    fn trip(&self, from: u8, now: Instant, why: &str) {
        let until = self
            .nanos(now)
            .saturating_add(u64::try_from(self.policy.open_for.as_nanos()).unwrap_or(u64::MAX));
        self.open_until.store(until, Ordering::Release);
        self.probes_started.store(0, Ordering::Release);
        self.probe_successes.store(0, Ordering::Release);
        if self
            .state
            .compare_exchange(from, OPEN, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.opened.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                backend = %self.backend,
                open_for = ?self.policy.open_for,
                "circuit breaker open: {why}"
            );
        }
    }

    fn nanos(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(epoch: Instant) -> CircuitBreaker {
        CircuitBreaker::new(
            BreakerPolicy {
                consecutive_failures: 3,
                open_for: Duration::from_secs(5),
                half_open_probes: 2,
                max_pending: 10,
            },
            "b",
            epoch,
        )
    }

    fn allowed(admission: Admission<'_>) -> Ticket<'_> {
        match admission {
            Admission::Allowed(ticket) => ticket,
            Admission::Rejected { .. } => panic!("rejected"),
        }
    }

    fn rejected_for(admission: Admission<'_>) -> Duration {
        match admission {
            Admission::Allowed(_) => panic!("allowed"),
            Admission::Rejected { retry_after } => retry_after,
        }
    }

    #[test]
    fn opens_when_every_endpoint_fails_then_half_opens_and_closes() {
        let t0 = Instant::now();
        let breaker = breaker(t0);
        // A failure while some endpoint still works keeps it closed.
        allowed(breaker.admit(t0)).report(false, false, t0);
        assert_eq!(breaker.state(t0), BreakerState::Closed);
        allowed(breaker.admit(t0)).report(false, true, t0);
        assert_eq!(breaker.state(t0), BreakerState::Open);
        assert_eq!(breaker.times_opened(), 1);
        let wait = rejected_for(breaker.admit(t0 + Duration::from_secs(1)));
        assert_eq!(wait, Duration::from_secs(4));
        // After open_for: two probes, no third.
        let t1 = t0 + Duration::from_secs(5);
        let first = allowed(breaker.admit(t1));
        let second = allowed(breaker.admit(t1));
        assert_eq!(breaker.state(t1), BreakerState::HalfOpen);
        rejected_for(breaker.admit(t1));
        first.report(true, false, t1);
        assert_eq!(breaker.state(t1), BreakerState::HalfOpen);
        second.report(true, false, t1);
        assert_eq!(breaker.state(t1), BreakerState::Closed);
    }

    #[test]
    fn a_failed_or_abandoned_probe_opens_it_again() {
        let t0 = Instant::now();
        let breaker = breaker(t0);
        allowed(breaker.admit(t0)).report(false, true, t0);
        let t1 = t0 + Duration::from_secs(5);
        allowed(breaker.admit(t1)).report(false, false, t1);
        assert_eq!(breaker.state(t1), BreakerState::Open);
        assert_eq!(breaker.times_opened(), 2);
        let t2 = t1 + Duration::from_secs(5);
        drop(allowed(breaker.admit(t2)));
        assert_ne!(breaker.state(t2), BreakerState::Closed);
        assert_eq!(breaker.times_opened(), 3);
    }
}
