//! Upstream connection pools and load balancing, one pool per backend.
//!
//! An [`UpstreamPool`] owns a pooled keep-alive hyper client (HTTP/1.1 or
//! h2c), a connection limit, and the backend's endpoints with their
//! in-flight counts and passive-ejection state. [`Upstreams`] is the set of
//! pools for one config snapshot; on reload, pools whose backend spec did
//! not change are carried over so their connections and ejection state
//! survive.

mod balancer;
mod endpoint;
mod error;
mod idle_body;
pub mod outbound;
mod pool;

pub use error::{TIMEOUT_MESSAGE, UNAVAILABLE_MESSAGE, UpstreamError};
pub use idle_body::BodyIdleTimeout;
pub use pool::{EndpointState, UpgradedConnection, UpstreamPool};

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::model::GatewayConfig;

/// The pools of one config snapshot, by backend name.
#[derive(Debug, Default)]
pub struct Upstreams {
    pools: HashMap<String, Arc<UpstreamPool>>,
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
        Self { pools }
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

    /// The pool for a backend.
    pub fn get(&self, backend: &str) -> Option<&Arc<UpstreamPool>> {
        self.pools.get(backend)
    }
}
