//! Upstream connection pools and load balancing, one pool per backend.
//!
//! An [`UpstreamPool`] owns a pooled keep-alive hyper client (HTTP/1.1,
//! h2c, or either over TLS for `https://` URLs: the TLS lives in the
//! client's connector, `crate::tls::upstream`), a connection limit, and
//! the backend's endpoints with their in-flight counts and passive-
//! ejection state, (with `health_check`) the active health checks of its
//! endpoints, and the backend's retry budget and circuit breaker; it
//! sends every attempt of every upstream request, retries included
//! (`retry`, `pool/send`). [`Upstreams`] is the set of
//! pools for one config snapshot; on reload, pools whose backend spec did
//! not change are carried over so their connections, ejection state and
//! health checks survive.

mod balancer;
mod breaker;
mod budget;
mod endpoint;
mod error;
mod health;
mod idle_body;
pub mod outbound;
mod outlier;
mod pool;
pub mod retry;
mod window;

pub use breaker::BreakerState;
pub use budget::BudgetState;
pub use error::{CIRCUIT_OPEN_MESSAGE, TIMEOUT_MESSAGE, UNAVAILABLE_MESSAGE, UpstreamError};
pub use health::HealthStatus;
pub use idle_body::BodyIdleTimeout;
pub use pool::{
    BreakerView, EndpointState, PinnedEndpoint, ResilienceState, UpgradedConnection, UpstreamPool,
};

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::model::GatewayConfig;

/// The pools of one config snapshot, by backend name.
#[derive(Debug, Default)]
pub struct Upstreams {
    pools: HashMap<String, Arc<UpstreamPool>>,
    workers: usize,
}

impl Upstreams {
    /// Builds a pool per backend, reusing `previous` pools whose spec is
    /// unchanged.
    pub fn build(config: &GatewayConfig, previous: Option<&Upstreams>) -> Self {
        let workers = config.server.worker_count();
        let pools = config
            .backends
            .iter()
            .map(|(name, spec)| {
                let reused = previous
                    .and_then(|p| p.pools.get(name))
                    .filter(|pool| pool.spec() == spec.as_ref())
                    .cloned();
                let pool = reused
                    .unwrap_or_else(|| Arc::new(UpstreamPool::new(Arc::clone(spec), workers)));
                (name.clone(), pool)
            })
            .collect();
        Self { pools, workers }
    }

    /// The pool for `spec`, for a route being built into the snapshot:
    /// the backend's pool, or (for a spec that is not one of the config's
    /// backends, which compilation rules out) a new pool added to the set,
    /// so that a route can never be built without its pool.
    pub fn pool_for(&mut self, spec: &Arc<crate::config::model::BackendSpec>) -> Arc<UpstreamPool> {
        let workers = self.workers.max(1);
        let pool = self
            .pools
            .entry(spec.name.clone())
            .or_insert_with(|| Arc::new(UpstreamPool::new(Arc::clone(spec), workers)));
        if pool.spec() != spec.as_ref() {
            *pool = Arc::new(UpstreamPool::new(Arc::clone(spec), workers));
        }
        Arc::clone(pool)
    }

    /// Every pool, by backend name, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Arc<UpstreamPool>)> {
        let mut pools: Vec<_> = self
            .pools
            .iter()
            .map(|(name, pool)| (name.as_str(), pool))
            .collect();
        pools.sort_by_key(|(name, _)| *name);
        pools.into_iter()
    }
}
