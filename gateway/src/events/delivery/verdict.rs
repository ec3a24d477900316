//! How one delivery attempt's outcome settles the event, pure: a 2xx
//! acks; a 4xx goes to the dead-letter queue at once with its reason; a
//! 5xx, a timeout or a refused or lost connection retries after an
//! exponential backoff with full jitter, until `max_attempts`, then goes
//! to the dead-letter queue with the last error.

use std::time::Duration;

use http::StatusCode;
use rand::Rng;

use crate::config::model::Backoff;
use crate::events::store::Settle;
use crate::upstream::retry::backoff_delay;

/// What one attempt to hand an item to its backend came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The backend answered 2xx (or any status below 400: 1xx and 3xx are
    /// not errors the receiver asked to retry, and redirects are not
    /// followed for a push).
    Delivered(StatusCode),
    /// The backend refused the item itself (4xx): retrying cannot help.
    Rejected { status: StatusCode, reason: String },
    /// A failure worth another try: 5xx, timeout, refused or lost
    /// connection, no endpoint available.
    Failed { reason: String },
}

impl AttemptOutcome {
    /// The outcome of a response head with `status`; `reason` describes it
    /// (the response body's start, for the dead-letter entry).
    pub fn of_status(status: StatusCode, reason: impl FnOnce() -> String) -> Self {
        if status.is_client_error() {
            AttemptOutcome::Rejected {
                status,
                reason: reason(),
            }
        } else if status.is_server_error() {
            AttemptOutcome::Failed { reason: reason() }
        } else {
            AttemptOutcome::Delivered(status)
        }
    }

    /// The label of the outcome in metrics and spans.
    pub fn label(&self) -> &'static str {
        match self {
            AttemptOutcome::Delivered(_) => "delivered",
            AttemptOutcome::Rejected { .. } => "rejected",
            AttemptOutcome::Failed { .. } => "failed",
        }
    }
}

/// A subscription's (or async route's) retry rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryRule {
    pub backoff: Backoff,
    /// Attempts in all, the first included; at least 1.
    pub max_attempts: u32,
}

/// How the item of attempt number `attempt` (1-based) settles after
/// `outcome`.
pub fn settle_for(
    outcome: &AttemptOutcome,
    attempt: u32,
    rule: &RetryRule,
    rng: &mut impl Rng,
) -> Settle {
    match outcome {
        AttemptOutcome::Delivered(_) => Settle::Ack,
        AttemptOutcome::Rejected { status, reason } => {
            Settle::DeadLetter(format!("rejected with {status}: {reason}"))
        }
        AttemptOutcome::Failed { reason } if attempt >= rule.max_attempts.max(1) => {
            Settle::DeadLetter(format!("gave up after {attempt} attempt(s): {reason}"))
        }
        AttemptOutcome::Failed { .. } => Settle::Retry(retry_delay(rule, attempt, rng)),
    }
}

/// The wait before the attempt after attempt `attempt`: random in
/// `[0, min(max, base × 2^(attempt-1))]` (full jitter).
pub fn retry_delay(rule: &RetryRule, attempt: u32, rng: &mut impl Rng) -> Duration {
    backoff_delay(&rule.backoff, attempt, rng)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn rule(max_attempts: u32) -> RetryRule {
        RetryRule {
            backoff: Backoff {
                base: Duration::from_millis(100),
                max: Duration::from_millis(350),
            },
            max_attempts,
        }
    }

    fn failed() -> AttemptOutcome {
        AttemptOutcome::Failed {
            reason: "503 Service Unavailable".into(),
        }
    }

    #[test]
    fn statuses_map_to_outcomes() {
        let of = |code: u16| {
            AttemptOutcome::of_status(StatusCode::from_u16(code).unwrap(), || "r".into())
        };
        assert_eq!(of(200).label(), "delivered");
        assert_eq!(of(204).label(), "delivered");
        assert_eq!(of(302).label(), "delivered");
        assert_eq!(of(400).label(), "rejected");
        assert_eq!(of(404).label(), "rejected");
        assert_eq!(of(500).label(), "failed");
        assert_eq!(of(503).label(), "failed");
    }

    #[test]
    fn success_acks_and_client_errors_dead_letter_at_once() {
        let mut rng = StdRng::seed_from_u64(3);
        let ok = AttemptOutcome::Delivered(StatusCode::OK);
        assert_eq!(settle_for(&ok, 1, &rule(5), &mut rng), Settle::Ack);
        let rejected = AttemptOutcome::Rejected {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            reason: "bad order".into(),
        };
        let Settle::DeadLetter(reason) = settle_for(&rejected, 1, &rule(5), &mut rng) else {
            panic!("a 4xx must dead-letter at once");
        };
        assert!(
            reason.contains("422") && reason.contains("bad order"),
            "{reason}"
        );
    }

    #[test]
    fn failures_retry_with_growing_capped_jitter_then_dead_letter() {
        let mut rng = StdRng::seed_from_u64(9);
        let rule = rule(4);
        for (attempt, ceiling) in [(1u32, 100u64), (2, 200), (3, 350)] {
            let mut seen_high = false;
            for _ in 0..200 {
                let Settle::Retry(wait) = settle_for(&failed(), attempt, &rule, &mut rng) else {
                    panic!("attempt {attempt} of 4 must retry");
                };
                assert!(
                    wait <= Duration::from_millis(ceiling),
                    "{wait:?} > {ceiling}ms"
                );
                seen_high |= wait > Duration::from_millis(ceiling / 2);
            }
            assert!(
                seen_high,
                "full jitter reaches the upper half for attempt {attempt}"
            );
        }
        let Settle::DeadLetter(reason) = settle_for(&failed(), 4, &rule, &mut rng) else {
            panic!("the last attempt must dead-letter");
        };
        assert!(
            reason.contains("4 attempt(s)") && reason.contains("503"),
            "{reason}"
        );
    }

    #[test]
    fn zero_max_attempts_means_one() {
        let mut rng = StdRng::seed_from_u64(1);
        assert!(matches!(
            settle_for(&failed(), 1, &rule(0), &mut rng),
            Settle::DeadLetter(_)
        ));
    }
}
