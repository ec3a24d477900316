//! The compiled `graphql:` section: plain settings the GraphQL runtime
//! (`crate::graphql`) reads — where the supergraph comes from, the
//! endpoint's switches, protection limits, planning pool, cache sizes,
//! persisted queries (with the trusted-documents manifest, parsed) — and
//! nothing that runs.

use std::sync::Arc;
use std::time::Duration;

mod manifest;

pub use manifest::Manifest;

/// `graphql:`: the federated GraphQL endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphqlConfig {
    pub settings: GraphqlSettings,
    pub source: SupergraphSource,
}

/// Where the supergraph comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum SupergraphSource {
    /// A supergraph SDL file (join v0.3), reloaded when it changes.
    File(std::path::PathBuf),
    /// Subgraphs composed from their `_service { sdl }` at start and on reload.
    Subgraphs(Vec<SubgraphEndpoint>),
}

/// One subgraph of `graphql.subgraphs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubgraphEndpoint {
    pub name: String,
    pub url: String,
}

/// Settings of the GraphQL endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphqlSettings {
    /// The endpoint path (default `/graphql`).
    pub path: String,
    pub limits: Limits,
    /// Answer `__schema` / `__type` (default on).
    pub introspection: bool,
    /// Serve GraphiQL (and its assets) to browsers on GET (default on).
    pub console: bool,
    /// Pass subgraph error messages through (default off: masked).
    pub expose_subgraph_errors: bool,
    /// The planning pool: threads, queue, time budget.
    pub planning: PlanningSettings,
    /// Cache sizes and warm-up.
    pub cache: CacheSettings,
    /// Automatic persisted queries.
    pub persisted: PersistedSettings,
}

impl Default for GraphqlSettings {
    fn default() -> Self {
        GraphqlSettings {
            path: "/graphql".to_owned(),
            limits: Limits::default(),
            introspection: true,
            console: true,
            expose_subgraph_errors: false,
            planning: PlanningSettings::default(),
            cache: CacheSettings::default(),
            persisted: PersistedSettings::default(),
        }
    }
}

/// The limits of one GraphQL endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_depth: usize,
    pub max_aliases: usize,
    pub max_root_fields: usize,
    /// Fields after fragment expansion, in any operation or fragment.
    pub max_expanded_fields: usize,
    /// Fields of one selection set after merging its fragments.
    pub max_selection_fields: usize,
    pub max_tokens: usize,
    pub max_body_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 15,
            max_aliases: 15,
            max_root_fields: 20,
            max_expanded_fields: 5_000,
            max_selection_fields: 500,
            max_tokens: 15_000,
            max_body_bytes: 2 * 1024 * 1024,
        }
    }
}

/// `graphql.planning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanningSettings {
    /// Threads of the pool (default: half the cores, at least 1).
    pub threads: usize,
    /// Operations that may wait for a thread (default 64).
    pub max_queued: usize,
    /// Time budget of one operation (default 5 s).
    pub timeout: Duration,
}

impl Default for PlanningSettings {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        PlanningSettings {
            threads: (cores / 2).max(1),
            max_queued: 64,
            timeout: Duration::from_secs(5),
        }
    }
}

/// `graphql.cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// Memory for prepared operations (default 32 MiB).
    pub operations_bytes: u64,
    /// Memory for plans (default 32 MiB).
    pub plans_bytes: u64,
    /// Hottest operations re-planned on a supergraph reload (default 100).
    pub warm_up: usize,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            operations_bytes: 32 * 1024 * 1024,
            plans_bytes: 32 * 1024 * 1024,
            warm_up: 100,
        }
    }
}

/// `graphql.persisted_queries`.
#[derive(Debug, Clone, PartialEq)]
pub struct PersistedSettings {
    /// Accept and register APQ hashes (default on).
    pub apq: bool,
    /// Memory for registered texts (default 16 MiB).
    pub cache_bytes: u64,
    /// Trusted documents, by id (loaded with the config).
    pub manifest: Option<Arc<Manifest>>,
    /// Serve only the manifest's documents (default off).
    pub trusted_only: bool,
}

impl Default for PersistedSettings {
    fn default() -> Self {
        PersistedSettings {
            apq: true,
            cache_bytes: 16 * 1024 * 1024,
            manifest: None,
            trusted_only: false,
        }
    }
}

/// Where the assets of the endpoint at `endpoint` are served.
pub fn graphiql_assets_path(endpoint: &str) -> String {
    format!("{}/assets", endpoint.trim_end_matches('/'))
}
