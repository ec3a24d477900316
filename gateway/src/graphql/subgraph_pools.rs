//! The subgraphs' upstream pools: one [`UpstreamPool`] per subgraph,
//! built from `graphql.traffic_shaping` like any backend of `backends:`.
//! A supergraph takes its subgraphs' pools from here when it is built
//! (never per request), so a reload of the supergraph or of the config
//! keeps a pool — its connections and ejection state — whenever the
//! subgraph's URL and settings are unchanged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use http::Uri;

use crate::config::model::{ServerSettings, SubgraphTraffic};
use crate::upstream::UpstreamPool;

/// The pools of one `graphql:` configuration, by subgraph name.
#[derive(Debug, Default)]
pub struct SubgraphPools {
    traffic: SubgraphTraffic,
    /// Only locked while a supergraph is built.
    pools: Mutex<HashMap<String, Arc<UpstreamPool>>>,
}

impl SubgraphPools {
    /// Pools for `traffic`, starting from `previous`'s (each is reused
    /// only while its spec stays the same).
    pub fn new(traffic: SubgraphTraffic, previous: Option<&SubgraphPools>) -> Self {
        let pools = previous.map(SubgraphPools::snapshot).unwrap_or_default();
        SubgraphPools {
            traffic,
            pools: Mutex::new(pools),
        }
    }

    /// The settings the pools are built with.
    pub fn traffic(&self) -> &SubgraphTraffic {
        &self.traffic
    }

    /// The pool of subgraph `name` at `base` (scheme and authority).
    pub fn pool(&self, name: &str, base: Uri) -> Arc<UpstreamPool> {
        let spec = self.traffic.backend_spec(name, base);
        let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pool) = pools.get(name).filter(|pool| pool.spec() == &spec) {
            return Arc::clone(pool);
        }
        // A client slot per core; with another worker count, workers
        // share slots by index, which stays correct.
        let workers = ServerSettings::default().worker_count();
        let pool = Arc::new(UpstreamPool::new(Arc::new(spec), workers));
        pools.insert(name.to_owned(), Arc::clone(&pool));
        pool
    }

    fn snapshot(&self) -> HashMap<String, Arc<UpstreamPool>> {
        self.pools
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn base(port: u16) -> Uri {
        format!("http://127.0.0.1:{port}/").parse().unwrap()
    }

    #[test]
    fn a_pool_is_reused_while_its_url_and_settings_stay() {
        let first = SubgraphPools::default();
        let pool = first.pool("products", base(1));
        assert!(Arc::ptr_eq(&pool, &first.pool("products", base(1))));
        assert!(!Arc::ptr_eq(&pool, &first.pool("products", base(2))));
        let same = SubgraphPools::new(SubgraphTraffic::default(), Some(&first));
        assert!(Arc::ptr_eq(
            &first.pool("products", base(2)),
            &same.pool("products", base(2))
        ));
        let mut traffic = SubgraphTraffic::default();
        traffic.all.request_timeout = Duration::from_secs(1);
        let changed = SubgraphPools::new(traffic, Some(&first));
        let rebuilt = changed.pool("products", base(2));
        assert!(!Arc::ptr_eq(&first.pool("products", base(2)), &rebuilt));
        assert_eq!(rebuilt.spec().request_timeout, Duration::from_secs(1));
        assert_eq!(rebuilt.spec().name, "subgraph:products");
    }
}
