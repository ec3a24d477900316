//! Raw serde types of the `rate_limits:` section and of a route's
//! `rate_limits:` list.

use marked_yaml::Spanned;
use serde::Deserialize;

use super::{Text, YamlTree};

/// `rate_limits:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRateLimits {
    pub max_keys: Option<Spanned<u64>>,
    pub redis: Option<Spanned<RawRedis>>,
    pub global: Option<Vec<RawLimit>>,
}

/// `rate_limits.redis:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRedis {
    pub url: Text,
    pub timeout: Option<Text>,
    pub connect_timeout: Option<Text>,
    pub key_prefix: Option<Text>,
    pub failure_mode: Option<Spanned<RawFailureMode>>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawFailureMode {
    Open,
    Closed,
}

/// One limit, global or a route's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimit {
    pub name: Text,
    /// `client_ip`, `consumer`, `{header: NAME}`, `{claim: NAME}`, or a
    /// list of these (a composite key).
    pub key: YamlTree,
    /// `COUNT/PERIOD`: `100/s`, `6000/min`, `10/1m30s`.
    pub rate: Text,
    pub burst: Option<Spanned<u64>>,
    pub store: Option<Spanned<RawStore>>,
    pub fallback: Option<RawFallback>,
    pub missing_key: Option<Spanned<RawMissingKey>>,
}

/// A limit's `fallback:` (Redis store only).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFallback {
    pub rate: Text,
    pub burst: Option<Spanned<u64>>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawStore {
    Local,
    Redis,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawMissingKey {
    Skip,
    Shared,
    ClientIp,
}
