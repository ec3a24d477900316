//! Rate limits, compiled: the `rate_limits:` section (global limits, the
//! key bound, the Redis store's settings) and each route's `rate_limits:`.
//! Plain data: the limiters and the Redis client are built from these with
//! the snapshot (`crate::ratelimit`).

use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;

/// `rate_limits:`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Limits every route is subject to, checked before the route's own.
    pub global: Vec<Arc<LimitSpec>>,
    /// Most keys one local limiter tracks (stale keys are evicted; past
    /// the bound, new keys share one overflow bucket).
    pub max_keys: usize,
    /// The Redis store, when any limit uses `store: redis`.
    pub redis: Option<RedisSettings>,
}

/// The default of `rate_limits.max_keys`.
pub const DEFAULT_MAX_KEYS: usize = 100_000;

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            global: Vec::new(),
            max_keys: DEFAULT_MAX_KEYS,
            redis: None,
        }
    }
}

/// One limit: a rate with a burst, per key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LimitSpec {
    /// Names the limit in the `RateLimit-Policy` / `RateLimit` headers,
    /// the Redis keys and the logs.
    pub name: String,
    /// What counts as one client: the parts are joined into one key.
    pub key: Vec<KeySource>,
    pub quota: Quota,
    pub store: LimitStore,
    /// With `store: redis`: the local limit applied while Redis does not
    /// answer and `failure_mode` is `open` (default: `quota`, per instance).
    pub fallback: Quota,
    pub missing_key: MissingKey,
}

/// A sustained rate and the burst allowed on top of an idle key (GCRA:
/// one request every `period / count`, `burst` at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    pub count: u32,
    pub period: Duration,
    pub burst: u32,
}

impl Quota {
    /// GCRA's emission interval: the time one request's cell takes to
    /// drain (`period / count`), at least 1 ns.
    pub fn emission_interval(&self) -> Duration {
        (self.period / self.count.max(1)).max(Duration::from_nanos(1))
    }
}

/// Where a key's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeySource {
    /// The client's address, through `server.trusted_proxies`.
    ClientIp,
    /// A request header's value.
    Header(HeaderName),
    /// A verified JWT claim of the request's principal.
    Claim(String),
    /// The principal's consumer (API key or JWT consumer claim), else its
    /// JWT subject.
    Consumer,
}

/// What a request without the key's value does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum MissingKey {
    /// The limit does not apply to it (Envoy's and nginx's behaviour).
    #[default]
    Skip,
    /// Every such request shares one bucket.
    Shared,
    /// Each such request is counted by its client address (Kong's
    /// fallback): anonymous clients are limited one by one, in buckets
    /// apart from the keyed ones.
    ClientIp,
}

/// Where a limit's state lives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum LimitStore {
    /// In this gateway's memory (atomics).
    #[default]
    Local,
    /// In Redis, shared by every gateway using the same Redis and prefix.
    Redis,
}

/// `rate_limits.redis:`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedisSettings {
    /// `redis://[user:password@]host:port[/db]` (or `rediss://`).
    pub url: String,
    /// Longest a request waits for Redis on one check.
    pub timeout: Duration,
    /// Longest one connection attempt takes.
    pub connect_timeout: Duration,
    /// Prepended to every key the gateway writes.
    pub key_prefix: String,
    pub failure_mode: FailureMode,
}

/// What a Redis-backed limit does while Redis does not answer in time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum FailureMode {
    /// Requests are checked against the limit's local `fallback` quota.
    #[default]
    Open,
    /// Requests are refused (503 `RATE_LIMIT_UNAVAILABLE`).
    Closed,
}
