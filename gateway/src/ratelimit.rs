//! Rate limits: the runtime side of `rate_limits:` (docs/resilience.md,
//! "Rate limits").
//!
//! [`RateLimits`] is built with each snapshot from the config's plain
//! [`LimitSpec`]s: a [`Limiter`] per limit (its local GCRA state, and for
//! `store: redis` the shared [`RedisStore`]). Limiters whose spec is
//! unchanged are carried over by a reload, and so is the Redis store while
//! `rate_limits.redis` is unchanged, so a reload neither resets anyone's
//! budget nor reconnects. [`RateLimits::layer_for`] gives a route its
//! policy layer (slot 3 of `pipeline::policy_layers`): the global limits,
//! then the route's own. Shared state on the request path is atomics and
//! a lock-free map only (see `local`).

mod headers;
mod key;
mod layer;
mod local;
mod redis_store;
mod stored_key;

pub use headers::{RATELIMIT, RATELIMIT_POLICY};
pub use key::{KeyInputs, MAX_KEY_BYTES, key_for};
pub use layer::RateLimitLayer;
pub use local::LocalLimiter;
pub use redis_store::{RedisCheckError, RedisStore};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::model::rate_limit::{FailureMode, LimitSpec, LimitStore};
use crate::config::model::{GatewayConfig, RouteSpec};
use crate::pipeline::PolicyLayer;

/// One check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Within the limit; `remaining` more would pass now, and the limit is
    /// whole again after `reset`.
    Allowed { remaining: u32, reset: Duration },
    /// Over the limit: the next request of this key passes after
    /// `retry_after`.
    Limited {
        retry_after: Duration,
        reset: Duration,
    },
    /// Redis did not answer and `failure_mode` is `closed`.
    Unavailable,
}

/// Which limits a limiter's state belongs to (part of its Redis keys).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    Global,
    Route(String),
}

/// One limit's runtime state.
#[derive(Debug)]
pub struct Limiter {
    spec: Arc<LimitSpec>,
    scope: Scope,
    /// `store: local`: the limit. `store: redis`: the fallback quota.
    local: Arc<LocalLimiter>,
    redis: Option<SharedLimit>,
    /// The `RateLimit-Policy` item.
    policy: String,
}

#[derive(Debug)]
struct SharedLimit {
    store: Arc<RedisStore>,
    /// `{key_prefix}{scope}:{name}:`; the request's key follows.
    key_prefix: Vec<u8>,
}

impl Limiter {
    fn build(
        spec: &Arc<LimitSpec>,
        scope: Scope,
        max_keys: usize,
        redis: Option<&Arc<RedisStore>>,
    ) -> Self {
        let redis = match spec.store {
            LimitStore::Redis => redis.map(|store| SharedLimit {
                store: Arc::clone(store),
                key_prefix: redis_prefix(&store.settings().key_prefix, &scope, &spec.name),
            }),
            LimitStore::Local => None,
        };
        let local_quota = if redis.is_some() {
            spec.fallback
        } else {
            spec.quota
        };
        Self {
            spec: Arc::clone(spec),
            scope,
            local: Arc::new(LocalLimiter::new(local_quota, max_keys)),
            redis,
            policy: headers::policy_item(spec),
        }
    }

    pub fn spec(&self) -> &LimitSpec {
        &self.spec
    }

    /// Whether the limit is kept in local memory only: its check never
    /// waits.
    fn is_local(&self) -> bool {
        self.redis.is_none()
    }

    /// Counts one request of `key`.
    pub async fn check(&self, key: &[u8]) -> Outcome {
        let Some(shared) = &self.redis else {
            return self.local.check(key);
        };
        let mut redis_key = Vec::with_capacity(shared.key_prefix.len() + key.len());
        redis_key.extend_from_slice(&shared.key_prefix);
        redis_key.extend_from_slice(key);
        match shared.store.check(&redis_key, &self.spec.quota).await {
            Ok(outcome) => outcome,
            Err(_) => match shared.store.failure_mode() {
                FailureMode::Open => self.local.check(key),
                FailureMode::Closed => Outcome::Unavailable,
            },
        }
    }

    /// Whether `other` can take over this limiter's state.
    fn same_as(&self, spec: &LimitSpec, scope: &Scope, redis: Option<&Arc<RedisStore>>) -> bool {
        let same_store = match (&self.redis, redis) {
            (Some(shared), Some(store)) => Arc::ptr_eq(&shared.store, store),
            (None, _) => spec.store == LimitStore::Local,
            (Some(_), None) => false,
        };
        *self.spec == *spec && self.scope == *scope && same_store
    }
}

fn redis_prefix(prefix: &str, scope: &Scope, name: &str) -> Vec<u8> {
    match scope {
        Scope::Global => format!("{prefix}global:{name}:"),
        Scope::Route(route) => format!("{prefix}route:{route}:{name}:"),
    }
    .into_bytes()
}

/// Every limiter of one snapshot.
#[derive(Debug, Default)]
pub struct RateLimits {
    global: Vec<Arc<Limiter>>,
    /// Each route's own limiters, by the address of their `LimitSpec`
    /// (unique per route and limit in one config).
    routes: HashMap<usize, Arc<Limiter>>,
    redis: Option<Arc<RedisStore>>,
}

impl RateLimits {
    /// Builds the limiters of `config`, taking over those of `previous`
    /// whose spec, scope, key bound and store are unchanged.
    pub fn build(config: &GatewayConfig, previous: Option<&RateLimits>) -> Self {
        let settings = &config.rate_limits;
        let redis = settings.redis.as_ref().map(|redis| {
            previous
                .and_then(|p| p.redis.as_ref())
                .filter(|store| store.settings() == redis)
                .map_or_else(|| RedisStore::build(redis), Arc::clone)
        });
        let uses_redis = |spec: &LimitSpec| spec.store == LimitStore::Redis;
        let needs_redis = settings.global.iter().any(|spec| uses_redis(spec))
            || config
                .routes
                .iter()
                .flat_map(|r| &r.rate_limits)
                .any(|s| uses_redis(s));
        let redis = redis.filter(|_| needs_redis);
        let old: Vec<&Arc<Limiter>> = previous
            .map(|p| p.global.iter().chain(p.routes.values()).collect())
            .unwrap_or_default();
        let limiter = |spec: &Arc<LimitSpec>, scope: Scope| {
            old.iter()
                .find(|limiter| {
                    limiter.same_as(spec, &scope, redis.as_ref())
                        && limiter.local.max_keys() == settings.max_keys
                })
                .map_or_else(
                    || {
                        Arc::new(Limiter::build(
                            spec,
                            scope.clone(),
                            settings.max_keys,
                            redis.as_ref(),
                        ))
                    },
                    |found| Arc::clone(found),
                )
        };
        let global = settings
            .global
            .iter()
            .map(|spec| limiter(spec, Scope::Global))
            .collect();
        let mut routes = HashMap::new();
        for route in &config.routes {
            for spec in &route.rate_limits {
                let built = limiter(spec, Scope::Route(route.name.clone()));
                routes.insert(Arc::as_ptr(spec) as usize, built);
            }
        }
        Self {
            global,
            routes,
            redis,
        }
    }

    /// The route's rate-limit layer, when any limit applies to it.
    pub fn layer_for(&self, route: &RouteSpec) -> Option<PolicyLayer> {
        let limiters: Vec<Arc<Limiter>> = self
            .global
            .iter()
            .cloned()
            .chain(
                route
                    .rate_limits
                    .iter()
                    .filter_map(|spec| self.routes.get(&(Arc::as_ptr(spec) as usize)).cloned()),
            )
            .collect();
        (!limiters.is_empty())
            .then(|| PolicyLayer::new("rate_limit", RateLimitLayer::new(limiters)))
    }

    /// The Redis store, when a limit uses it (its health is on `/metrics`).
    pub fn redis(&self) -> Option<&Arc<RedisStore>> {
        self.redis.as_ref()
    }
}

#[cfg(test)]
mod tests;
