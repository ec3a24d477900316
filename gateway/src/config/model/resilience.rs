//! Resilience settings, as plain data: the retry policy (a backend's, a
//! route's or a composition call's), the backend's retry budget, the
//! outlier-detection keys of `ejection:` beyond the consecutive-failure
//! count, and the optional circuit breaker. The runtime state (budgets,
//! breakers, ejection counters) lives in `upstream`, built with the
//! snapshot. See docs/resilience.md.

use std::time::Duration;

use http::StatusCode;

/// A backend's resilience settings, next to its connection settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resilience {
    /// `retry:`, the backend's default policy.
    pub retry: RetryPolicy,
    /// `retry_budget:`.
    pub budget: RetryBudget,
    /// The outlier-detection keys of `ejection:`.
    pub outlier: OutlierPolicy,
    /// `circuit_breaker:`; `None` (the default) means none.
    pub breaker: Option<BreakerPolicy>,
}

/// When and how a failed attempt is tried again.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retries).
    pub max_attempts: u32,
    pub retry_on: RetryOn,
    /// Bounds one attempt up to its response head; `None`: only the
    /// request's deadline does.
    pub per_try_timeout: Option<Duration>,
    pub backoff: Backoff,
    /// Retry methods that are not idempotent (POST, PATCH) after the
    /// upstream may have received them.
    pub non_idempotent: bool,
    /// A request body up to this size is buffered so it can be replayed;
    /// a larger (or streamed past it) body is never retried.
    pub max_buffered_body: u64,
}

impl RetryPolicy {
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 2;
    /// Most attempts a policy may ask for.
    pub const MAX_ATTEMPTS: u32 = 10;
    pub const DEFAULT_MAX_BUFFERED_BODY: u64 = 64 * 1024;
    /// Largest `max_buffered_body` (each retried request may hold this much).
    pub const MAX_BUFFERED_BODY: u64 = 16 * 1024 * 1024;
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            retry_on: RetryOn::default(),
            per_try_timeout: None,
            backoff: Backoff::default(),
            non_idempotent: false,
            max_buffered_body: Self::DEFAULT_MAX_BUFFERED_BODY,
        }
    }
}

/// What makes an attempt worth retrying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryOn {
    /// No connection could be made (nothing was sent: retried for any method).
    pub connect_failure: bool,
    /// The connection failed after the request was sent, before a
    /// response head.
    pub reset: bool,
    /// The attempt's `per_try_timeout` passed.
    pub timeout: bool,
    /// Response statuses.
    pub statuses: StatusSet,
    /// gRPC status codes (0–16) in a response head (a trailers-only
    /// answer): retried for any method, since these codes say the call
    /// was not processed (gRPC's own retry design).
    pub grpc_codes: GrpcCodeSet,
}

impl Default for RetryOn {
    fn default() -> Self {
        Self {
            connect_failure: true,
            reset: true,
            timeout: false,
            statuses: StatusSet::default(),
            grpc_codes: GrpcCodeSet::default(),
        }
    }
}

/// A set of HTTP statuses in 400–599.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusSet([u64; 4]);

impl StatusSet {
    pub const FIRST: u16 = 400;
    pub const LAST: u16 = 599;

    /// Adds `status`; false when it is outside 400–599.
    pub fn insert(&mut self, status: u16) -> bool {
        if !(Self::FIRST..=Self::LAST).contains(&status) {
            return false;
        }
        let bit = usize::from(status - Self::FIRST);
        self.0[bit / 64] |= 1 << (bit % 64);
        true
    }

    pub fn contains(&self, status: StatusCode) -> bool {
        let status = status.as_u16();
        if !(Self::FIRST..=Self::LAST).contains(&status) {
            return false;
        }
        let bit = usize::from(status - Self::FIRST);
        self.0[bit / 64] & (1 << (bit % 64)) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|word| *word == 0)
    }

    /// The statuses in the set, ascending (for `/config` and docs).
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (Self::FIRST..=Self::LAST).filter(|status| {
            StatusCode::from_u16(*status).is_ok_and(|status| self.contains(status))
        })
    }
}

/// A set of gRPC status codes (0–16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GrpcCodeSet(u32);

impl GrpcCodeSet {
    /// The canonical names, by code.
    pub const NAMES: [&'static str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];

    /// The code named `name` (case-insensitive, `-` or `_`), if any.
    pub fn code_of(name: &str) -> Option<u32> {
        let name = name.trim().replace('-', "_").to_ascii_uppercase();
        Self::NAMES
            .iter()
            .position(|known| *known == name)
            .and_then(|code| u32::try_from(code).ok())
    }

    pub fn insert(&mut self, code: u32) {
        if code < 17 {
            self.0 |= 1 << code;
        }
    }

    pub fn contains(&self, code: u32) -> bool {
        code < 17 && self.0 & (1 << code) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
}

/// Exponential backoff with full jitter: before retry `n` (1-based), a
/// random wait in `[0, min(max, base × 2^(n-1))]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(25),
            max: Duration::from_millis(250),
        }
    }
}

/// `retry_budget:` retries may add at most `ratio` of the requests sent
/// in the last [`RetryBudget::WINDOW`], plus `min_per_second` retries per
/// second of that window (linkerd's and Envoy's retry budget).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryBudget {
    pub ratio: f64,
    pub min_per_second: u32,
}

impl RetryBudget {
    /// The window the budget counts over.
    pub const WINDOW: Duration = Duration::from_secs(10);
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self {
            ratio: 0.2,
            min_per_second: 10,
        }
    }
}

/// Outlier detection beyond the consecutive-failure count of
/// [`super::EjectionPolicy`] (whose `cooldown` is the first ejection's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutlierPolicy {
    /// Longest cool-down, however often the endpoint was ejected.
    pub max_cooldown: Duration,
    /// Eject when this fraction of the window's attempts failed…
    pub failure_ratio: f64,
    /// …and the window holds at least this many attempts.
    pub min_requests: u32,
    /// The sliding window of the failure ratio.
    pub window: Duration,
    /// Most endpoints ejected at once, in percent of the backend's; at
    /// least one endpoint always stays in rotation.
    pub max_ejection_percent: u32,
}

impl Default for OutlierPolicy {
    fn default() -> Self {
        Self {
            max_cooldown: Duration::from_secs(300),
            failure_ratio: 0.5,
            min_requests: 20,
            window: Duration::from_secs(10),
            max_ejection_percent: 50,
        }
    }
}

/// `circuit_breaker:` a backend's breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// The breaker opens when every endpoint has failed this many times
    /// in a row (ejected endpoints count as failing).
    pub consecutive_failures: u32,
    /// How long it stays open before letting probes through.
    pub open_for: Duration,
    /// Probe requests let through half-open; this many successes close it,
    /// one failure opens it again.
    pub half_open_probes: u32,
    /// Requests waiting for a connection slot past this fail fast.
    pub max_pending: usize,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            open_for: Duration::from_secs(5),
            half_open_probes: 3,
            max_pending: 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_set_holds_only_400_to_599() {
        let mut set = StatusSet::default();
        assert!(set.insert(503));
        assert!(set.insert(599));
        assert!(set.insert(400));
        assert!(!set.insert(399));
        assert!(!set.insert(600));
        assert!(set.contains(StatusCode::SERVICE_UNAVAILABLE));
        assert!(!set.contains(StatusCode::BAD_GATEWAY));
        assert!(!set.contains(StatusCode::OK));
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![400, 503, 599]);
    }

    #[test]
    fn grpc_codes_by_name() {
        assert_eq!(GrpcCodeSet::code_of("unavailable"), Some(14));
        assert_eq!(GrpcCodeSet::code_of("RESOURCE_EXHAUSTED"), Some(8));
        assert_eq!(GrpcCodeSet::code_of("resource-exhausted"), Some(8));
        assert_eq!(GrpcCodeSet::code_of("nope"), None);
        let mut set = GrpcCodeSet::default();
        set.insert(14);
        assert!(set.contains(14) && !set.contains(8) && !set.contains(99));
    }
}
