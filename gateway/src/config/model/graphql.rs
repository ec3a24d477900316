//! The compiled `graphql:` section: plain settings the GraphQL runtime
//! (the `graphql` module) reads — where the supergraph comes from, the
//! endpoint's switches, protection limits, planning pool, cache sizes,
//! persisted queries (with the trusted-documents manifest, parsed) — and
//! nothing that runs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http::Uri;

use super::{BackendSpec, EjectionPolicy, LoadBalancing, UpstreamProtocol};

mod manifest;

pub use manifest::Manifest;

/// `graphql:`: the federated GraphQL endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphqlConfig {
    pub settings: GraphqlSettings,
    pub source: SupergraphSource,
    /// `graphql.traffic_shaping`: each subgraph's backend settings.
    pub traffic: SubgraphTraffic,
}

/// `graphql.traffic_shaping`: subgraphs are backends like those of
/// `backends:` (one pool each, named `subgraph:<name>` on `/upstreams`),
/// with these settings: `all`, overridden key by key per subgraph.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubgraphTraffic {
    pub all: SubgraphBackendSettings,
    /// By subgraph name; every key not set there comes from `all`.
    pub subgraphs: BTreeMap<String, SubgraphBackendSettings>,
}

/// One subgraph's backend settings (the keys of a `backends:` entry but
/// its URL, which comes from the supergraph or `graphql.subgraphs`).
#[derive(Debug, Clone, PartialEq)]
pub struct SubgraphBackendSettings {
    pub connect_timeout: Duration,
    /// Bounds a subgraph request up to its response head, and a
    /// subscription's handshake.
    pub request_timeout: Duration,
    pub body_idle_timeout: Duration,
    pub max_connections: usize,
    pub load_balancing: LoadBalancing,
    pub ejection: EjectionPolicy,
    /// Identical queries in flight at once share one subgraph request
    /// (never mutations). On by default, as in Hive Router.
    pub dedupe: bool,
    /// Retries (subgraph fetches of queries count as idempotent), retry
    /// budget, outlier detection and circuit breaker.
    pub resilience: super::Resilience,
}

impl Default for SubgraphBackendSettings {
    fn default() -> Self {
        SubgraphBackendSettings {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(30),
            body_idle_timeout: Duration::from_secs(60),
            max_connections: 512,
            load_balancing: LoadBalancing::LeastRequest,
            ejection: EjectionPolicy {
                consecutive_failures: 5,
                cooldown: Duration::from_secs(5),
            },
            dedupe: true,
            resilience: Default::default(),
        }
    }
}

impl SubgraphTraffic {
    /// The settings of subgraph `name`.
    pub fn for_subgraph(&self, name: &str) -> &SubgraphBackendSettings {
        self.subgraphs.get(name).unwrap_or(&self.all)
    }

    /// The backend of subgraph `name` at `base` (scheme and authority).
    pub fn backend_spec(&self, name: &str, base: Uri) -> BackendSpec {
        let settings = self.for_subgraph(name);
        BackendSpec {
            health_check: None,
            tls: Default::default(),
            name: format!("subgraph:{name}"),
            urls: vec![base],
            protocol: UpstreamProtocol::Http1,
            connect_timeout: settings.connect_timeout,
            request_timeout: settings.request_timeout,
            body_idle_timeout: settings.body_idle_timeout,
            max_connections: settings.max_connections,
            load_balancing: settings.load_balancing,
            ejection: settings.ejection,
            resilience: settings.resilience.clone(),
        }
    }
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
