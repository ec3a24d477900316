//! The immutable state one request runs against.
//!
//! A [`Snapshot`] bundles a compiled config, its route table and its
//! upstream pools. The server holds the current one in an `ArcSwap`; a
//! request loads it once and keeps that `Arc` until it finishes, so a
//! reload never changes the rules under a request in flight.

use std::sync::Arc;
use std::time::SystemTime;

use crate::config::model::GatewayConfig;
use crate::graphql::GraphqlService;
use crate::router::{RouteConflict, RouteTable};
use crate::upstream::Upstreams;

#[derive(Debug)]
pub struct Snapshot {
    /// 1 for the config loaded at start, +1 per successful reload.
    pub version: u64,
    pub config: Arc<GatewayConfig>,
    pub routes: RouteTable,
    pub upstreams: Upstreams,
    /// The federated GraphQL endpoint, when `graphql:` is configured.
    pub graphql: Option<Arc<GraphqlService>>,
    pub loaded_at: SystemTime,
}

impl Snapshot {
    /// Builds a snapshot, carrying over unchanged upstream pools from
    /// `previous`.
    pub fn build(
        config: GatewayConfig,
        version: u64,
        previous: Option<&Snapshot>,
    ) -> Result<Self, Vec<RouteConflict>> {
        let routes = RouteTable::build(&config.routes)?;
        let upstreams = Upstreams::build(&config, previous.map(|p| &p.upstreams));
        let graphql = config.graphql.as_ref().map(|section| {
            GraphqlService::for_config(section, previous.and_then(|p| p.graphql.as_ref()))
        });
        Ok(Self {
            version,
            config: Arc::new(config),
            routes,
            upstreams,
            graphql,
            loaded_at: SystemTime::now(),
        })
    }
}
