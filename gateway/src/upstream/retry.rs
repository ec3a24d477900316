//! Retry decisions, pure: which policy applies to an upstream request,
//! whether an attempt's outcome is worth another try, and the backoff
//! before it. The loop that sends the attempts is `pool/send.rs`.
//!
//! The policy is, first found: the composition call's ([`CallRetry`] in
//! the request's extensions), the route's (carried in the
//! [`RetryScope`] that the route's `retry` policy layer puts in the
//! request context), the backend's. The scope also counts the request's
//! attempts for the `x-gateway-attempts` response header.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use http::{Extensions, HeaderMap, Method, StatusCode};
use rand::Rng;

use crate::config::model::{Backoff, RetryPolicy};

/// The response header that says how many upstream attempts a request
/// took (all of its calls, for a composition or a GraphQL operation).
pub const ATTEMPTS_HEADER: &str = "x-gateway-attempts";

/// One client request's retry scope: the route's policy override and the
/// count of upstream attempts made for it.
#[derive(Debug, Default)]
pub struct RetryScope {
    route_policy: Option<Arc<RetryPolicy>>,
    attempts: AtomicU32,
}

impl RetryScope {
    pub fn new(route_policy: Option<Arc<RetryPolicy>>) -> Self {
        Self {
            route_policy,
            attempts: AtomicU32::new(0),
        }
    }

    /// Upstream attempts made for the request so far.
    pub fn attempts(&self) -> u32 {
        self.attempts.load(Ordering::Relaxed)
    }

    pub(super) fn count_attempt(&self) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
    }
}

/// A composition call's own policy, put in its upstream request's
/// extensions.
#[derive(Debug, Clone)]
pub struct CallRetry(pub Arc<RetryPolicy>);

/// Marks an upstream request as idempotent whatever its method (a GraphQL
/// query sent as POST).
#[derive(Debug, Clone, Copy)]
pub struct Idempotent;

/// The policy for a request with `extensions`, else `backend`'s.
pub fn policy_for<'a>(extensions: &'a Extensions, backend: &'a RetryPolicy) -> &'a RetryPolicy {
    if let Some(CallRetry(policy)) = extensions.get::<CallRetry>() {
        return policy;
    }
    extensions
        .get::<Arc<RetryScope>>()
        .and_then(|scope| scope.route_policy.as_deref())
        .unwrap_or(backend)
}

/// Whether a request may be sent again after the upstream may have
/// received it.
pub fn is_idempotent(method: &Method, extensions: &Extensions, policy: &RetryPolicy) -> bool {
    method.is_idempotent() || policy.non_idempotent || extensions.get::<Idempotent>().is_some()
}

/// How one attempt went, as far as retries and outlier detection care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Success,
    /// No connection: nothing was sent.
    ConnectFailure,
    /// The connection failed after sending, before a response head.
    Reset,
    /// The per-try timeout passed.
    Timeout,
    /// A response head whose status or gRPC status is an error.
    ErrorResponse {
        status: StatusCode,
        grpc: Option<u32>,
    },
}

impl Verdict {
    /// The verdict on a response head.
    pub fn of_response(status: StatusCode, headers: &HeaderMap) -> Self {
        let grpc = grpc_status(headers).filter(|code| *code != 0);
        if status.is_server_error() || status.is_client_error() || grpc.is_some() {
            Verdict::ErrorResponse { status, grpc }
        } else {
            Verdict::Success
        }
    }

    /// Whether the attempt counts against the endpoint (outlier
    /// detection, the breaker): a 5xx, gRPC UNAVAILABLE, or no response.
    pub fn is_failure(&self) -> bool {
        match self {
            Verdict::Success => false,
            Verdict::ErrorResponse { status, grpc } => {
                status.is_server_error() || *grpc == Some(GRPC_UNAVAILABLE)
            }
            _ => true,
        }
    }

    /// Whether `policy` retries it; `idempotent`: the request may be sent
    /// again after the upstream may have received it.
    pub fn is_retryable(&self, policy: &RetryPolicy, idempotent: bool) -> bool {
        let on = &policy.retry_on;
        match *self {
            Verdict::Success => false,
            Verdict::ConnectFailure => on.connect_failure,
            Verdict::Reset => on.reset && idempotent,
            Verdict::Timeout => on.timeout && idempotent,
            Verdict::ErrorResponse { status, grpc } => {
                grpc.is_some_and(|code| on.grpc_codes.contains(code))
                    || (idempotent && on.statuses.contains(status))
            }
        }
    }
}

const GRPC_UNAVAILABLE: u32 = 14;

/// `grpc-status` in a response head (a trailers-only answer).
fn grpc_status(headers: &HeaderMap) -> Option<u32> {
    headers
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok())
}

/// The wait before retry `retry` (1 for the first retry): uniformly random
/// in `[0, min(max, base × 2^(retry-1))]` (exponential backoff, full jitter).
pub fn backoff_delay(backoff: &Backoff, retry: u32, rng: &mut impl Rng) -> Duration {
    let factor = 1u32
        .checked_shl(retry.saturating_sub(1))
        .unwrap_or(u32::MAX);
    let ceiling = backoff.base.saturating_mul(factor).min(backoff.max);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.random_range(0..=nanos))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::config::model::{GrpcCodeSet, RetryOn};

    #[test]
    fn backoff_grows_exponentially_under_its_cap_with_full_jitter() {
        let backoff = Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
        };
        let mut rng = StdRng::seed_from_u64(1);
        for (retry, ceiling) in [(1, 10), (2, 20), (3, 40), (4, 50), (30, 50), (u32::MAX, 50)] {
            let delays: Vec<Duration> = (0..200)
                .map(|_| backoff_delay(&backoff, retry, &mut rng))
                .collect();
            let ceiling = Duration::from_millis(ceiling);
            assert!(delays.iter().all(|d| *d <= ceiling), "retry {retry}");
            // Full jitter: spread over the whole range, not bunched at the top.
            assert!(delays.iter().any(|d| *d < ceiling / 4), "retry {retry}");
            assert!(delays.iter().any(|d| *d > ceiling * 3 / 4), "retry {retry}");
        }
    }

    fn policy(statuses: &[u16], grpc: &[u32]) -> RetryPolicy {
        let mut on = RetryOn {
            timeout: true,
            ..RetryOn::default()
        };
        for status in statuses {
            on.statuses.insert(*status);
        }
        let mut codes = GrpcCodeSet::default();
        grpc.iter().for_each(|code| codes.insert(*code));
        on.grpc_codes = codes;
        RetryPolicy {
            retry_on: on,
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn only_idempotent_requests_are_retried_once_sent() {
        let policy = policy(&[503], &[]);
        let unavailable = Verdict::of_response(StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new());
        assert!(unavailable.is_retryable(&policy, true));
        assert!(!unavailable.is_retryable(&policy, false));
        assert!(!Verdict::Reset.is_retryable(&policy, false));
        assert!(Verdict::Reset.is_retryable(&policy, true));
        assert!(!Verdict::Timeout.is_retryable(&policy, false));
        // Nothing was sent: any method.
        assert!(Verdict::ConnectFailure.is_retryable(&policy, false));
        let bad_gateway = Verdict::of_response(StatusCode::BAD_GATEWAY, &HeaderMap::new());
        assert!(!bad_gateway.is_retryable(&policy, true));
        assert!(bad_gateway.is_failure());
        let not_found = Verdict::of_response(StatusCode::NOT_FOUND, &HeaderMap::new());
        assert!(!not_found.is_failure());
        assert_eq!(
            Verdict::of_response(StatusCode::OK, &HeaderMap::new()),
            Verdict::Success
        );
    }

    #[test]
    fn grpc_codes_in_the_head_are_retried_for_any_method() {
        let policy = policy(&[], &[14, 8]);
        let mut headers = HeaderMap::new();
        headers.insert("grpc-status", HeaderValue::from_static("14"));
        let unavailable = Verdict::of_response(StatusCode::OK, &headers);
        assert!(unavailable.is_retryable(&policy, false));
        assert!(unavailable.is_failure());
        headers.insert("grpc-status", HeaderValue::from_static("5"));
        let not_found = Verdict::of_response(StatusCode::OK, &headers);
        assert!(!not_found.is_retryable(&policy, true));
        assert!(!not_found.is_failure());
        headers.insert("grpc-status", HeaderValue::from_static("0"));
        assert_eq!(
            Verdict::of_response(StatusCode::OK, &headers),
            Verdict::Success
        );
    }

    #[test]
    fn the_call_policy_beats_the_route_policy_which_beats_the_backend() {
        let backend = RetryPolicy::default();
        let route = Arc::new(RetryPolicy {
            max_attempts: 4,
            ..RetryPolicy::default()
        });
        let call = Arc::new(RetryPolicy {
            max_attempts: 7,
            ..RetryPolicy::default()
        });
        let mut extensions = Extensions::new();
        assert_eq!(policy_for(&extensions, &backend).max_attempts, 2);
        extensions.insert(Arc::new(RetryScope::new(Some(route))));
        assert_eq!(policy_for(&extensions, &backend).max_attempts, 4);
        extensions.insert(CallRetry(call));
        assert_eq!(policy_for(&extensions, &backend).max_attempts, 7);
    }
}
