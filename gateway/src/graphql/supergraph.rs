//! A loaded supergraph: its SDL, the query planner built from it, one
//! pooled upstream client per subgraph (its pool from
//! [`SubgraphPools`], so `graphql.traffic_shaping`, balancing, ejection
//! and connection limits apply to subgraph calls) and its operation and
//! plan caches. Built off the request path and swapped in whole on
//! reload.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hive_router_query_planner::planner::plan_nodes::QueryPlan;
use hive_router_query_planner::planner::{Planner, QueryPlannerOptions};
use hive_router_query_planner::utils::parsing::safe_parse_schema;
use http::Uri;
use http::uri::PathAndQuery;

use super::authorization::AuthorizationRules;
use super::operation_cache::OperationCaches;
use super::response_types::ResponseTypes;
use super::subgraph_pools::SubgraphPools;
use super::variables::InputTypes;
use crate::upstream::UpstreamPool;

/// Why a supergraph could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SupergraphError {
    #[error("the supergraph SDL does not parse: {0}")]
    Parse(String),
    #[error("the query planner rejected the supergraph: {0}")]
    Planner(String),
    #[error("subgraph {name:?} has an invalid URL {url:?}: expected http://host:port/path")]
    BadUrl { name: String, url: String },
}

/// The pooled client of one subgraph.
#[derive(Debug)]
pub struct SubgraphClient {
    pub name: String,
    pub url: String,
    pub pool: Arc<UpstreamPool>,
    /// The path (and query) requests are sent to, e.g. `/graphql`.
    pub path: PathAndQuery,
    pub timeout: Duration,
    /// Identical queries in flight share one request
    /// (`graphql.traffic_shaping.*.dedupe`).
    pub dedupe: bool,
}

/// A planned operation, cached by its normalized text and name.
pub type CachedPlan = Arc<QueryPlan>;

/// Everything needed to serve one supergraph.
pub struct Supergraph {
    pub sdl: String,
    pub planner: Planner,
    pub subgraphs: HashMap<String, Arc<SubgraphClient>>,
    /// Prepared operations and plans (see [`OperationCaches`]).
    pub caches: OperationCaches,
    /// What response shaping reads of the schema, public parts marked.
    pub response_types: ResponseTypes,
    /// `@authenticated` / `@requiresScopes` (empty without them).
    pub authorization: AuthorizationRules,
    /// The public schema for introspection, or why it could not be built.
    pub introspection: Result<async_graphql::dynamic::Schema, String>,
    /// The public schema's input types, for variable coercion.
    pub input_types: InputTypes,
}

impl std::fmt::Debug for Supergraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supergraph")
            .field("subgraphs", &self.subgraphs.keys().collect::<Vec<_>>())
            .field("cached_operations", &self.caches.operations.entry_count())
            .field("cached_plans", &self.caches.plans.entry_count())
            .finish_non_exhaustive()
    }
}

impl Supergraph {
    /// Parses `sdl`, builds the planner and a client per `join__Graph`,
    /// each over its pool from `pools`.
    pub fn from_sdl(sdl: &str, pools: &SubgraphPools) -> Result<Supergraph, SupergraphError> {
        let document = safe_parse_schema(sdl).map_err(|e| SupergraphError::Parse(e.to_string()))?;
        let planner = std::panic::catch_unwind(|| {
            Planner::new_from_supergraph(&document, QueryPlannerOptions::default())
        })
        .map_err(|_| {
            SupergraphError::Planner("the planner panicked on this supergraph".to_owned())
        })?
        .map_err(|e| SupergraphError::Planner(e.to_string()))?;
        let mut subgraphs = HashMap::new();
        for (name, url) in &planner.supergraph.subgraph_endpoint_map {
            // A subgraph without a usable URL does not stop the others:
            // operations that need it get SUBGRAPH_UNKNOWN for its part.
            match subgraph_client(name, url, pools) {
                Ok(client) => {
                    subgraphs.insert(name.clone(), Arc::new(client));
                }
                Err(error) => tracing::warn!(%error, "subgraph left out"),
            }
        }
        let state = &planner.supergraph;
        let roots = [
            Some(state.query_type.as_str()),
            state.mutation_type.as_deref(),
            state.subscription_type.as_deref(),
        ];
        let introspection =
            super::introspection::build_schema(&planner.consumer_schema.document, roots);
        let response_types = ResponseTypes::new(state, &planner.consumer_schema.document);
        let authorization = AuthorizationRules::from_supergraph(state);
        let input_types = InputTypes::new(&planner.consumer_schema.document);
        Ok(Supergraph {
            response_types,
            authorization,
            introspection,
            input_types,
            sdl: sdl.to_owned(),
            planner,
            subgraphs,
            caches: OperationCaches::default(),
        })
    }
}

pub(crate) fn subgraph_client(
    name: &str,
    url: &str,
    pools: &SubgraphPools,
) -> Result<SubgraphClient, SupergraphError> {
    let bad_url = || SupergraphError::BadUrl {
        name: name.to_owned(),
        url: url.to_owned(),
    };
    let uri: Uri = url.parse().map_err(|_| bad_url())?;
    let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
        return Err(bad_url());
    };
    if scheme != &http::uri::Scheme::HTTP {
        return Err(bad_url());
    }
    let base = Uri::builder()
        .scheme(scheme.clone())
        .authority(authority.clone())
        .path_and_query("/")
        .build()
        .map_err(|_| bad_url())?;
    let path = uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    let pool = pools.pool(name, base);
    Ok(SubgraphClient {
        name: name.to_owned(),
        url: url.to_owned(),
        timeout: pool.spec().request_timeout,
        dedupe: pools.traffic().for_subgraph(name).dedupe,
        pool,
        path,
    })
}
