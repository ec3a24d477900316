//! The immutable state one request runs against.
//!
//! A [`Snapshot`] bundles a compiled config with everything built from it
//! at run time: the upstream pools, the decoded protobuf descriptors, the
//! GraphQL service, and every route's compiled pipeline
//! ([`crate::pipeline`]) indexed by the route table. The server holds the
//! current one in an `ArcSwap`; a request loads it once and keeps that
//! `Arc` until it finishes, so a reload never changes the rules under a
//! request in flight.
//!
//! Runtime objects whose inputs did not change are carried over from the
//! previous snapshot: pools (same backend spec), the descriptor pool (same
//! descriptor bytes), a composition's caches and coalescer (same route
//! spec), the GraphQL service, the listener's TLS config (same
//! `server.tls` and certificate bytes). The config itself holds none of them, so
//! `gateway check` builds none.

use std::sync::Arc;
use std::time::SystemTime;

use prost_reflect::DescriptorPool;

use crate::config::model::GatewayConfig;
use crate::events::bus::EventBus;
use crate::graphql::GraphqlService;
use crate::pipeline::{self, BuildError, PolicyChooser, PolicyRuntime, Route, RouteInputs};
use crate::ratelimit::RateLimits;
use crate::router::{RouteConflict, RouteTable};
use crate::upstream::Upstreams;

#[derive(Debug)]
pub struct Snapshot {
    /// 1 for the config loaded at start, +1 per successful reload.
    pub version: u64,
    pub config: Arc<GatewayConfig>,
    /// The routes' pipelines, indexed for matching.
    pub routes: RouteTable<Arc<Route>>,
    /// The same routes in config order.
    pub pipelines: Vec<Arc<Route>>,
    pub upstreams: Upstreams,
    /// The `grpc:` protos, decoded from the config's descriptor bytes.
    pub descriptors: Option<DescriptorPool>,
    /// The federated GraphQL endpoint, when `graphql:` is configured.
    pub graphql: Option<Arc<GraphqlService>>,
    /// The policies' shared runtime objects (JWT providers' keys, the
    /// rate limiters and their Redis store).
    pub policy_runtime: PolicyRuntime,
    /// The listener's TLS config, when `server.tls` is set; read at each
    /// handshake, so a reload (a rotated certificate) applies to the next.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The `Strict-Transport-Security` value TLS responses carry
    /// (`server.tls.hsts`), made once here.
    pub hsts: Option<http::HeaderValue>,
    /// The event bus, when `events:` is set: opened once at start and
    /// carried from snapshot to snapshot.
    pub events: Option<Arc<EventBus>>,
    pub loaded_at: SystemTime,
}

/// Why a snapshot could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{} route conflict(s)", .0.len())]
    Conflicts(Vec<RouteConflict>),
    #[error("the grpc: descriptors do not decode: {0}")]
    Descriptors(String),
    #[error(transparent)]
    Route(#[from] BuildError),
    #[error("auth: {0}")]
    Auth(String),
    #[error("server.tls: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("backend \"{backend}\" has https:// URLs and no tls.ca, but {source}")]
    SystemRoots {
        backend: String,
        source: crate::tls::system_roots::SystemRootsError,
    },
}

impl Snapshot {
    /// Builds a snapshot, carrying over unchanged runtime objects from
    /// `previous`.
    pub fn build(
        config: GatewayConfig,
        version: u64,
        previous: Option<&Snapshot>,
    ) -> Result<Self, SnapshotError> {
        Self::build_with_policies(config, version, previous, &pipeline::policy_layers)
    }

    /// The first snapshot, with the event bus opened at start (`None`
    /// when `events:` is not set).
    pub fn first(
        config: GatewayConfig,
        events: Option<Arc<EventBus>>,
    ) -> Result<Self, SnapshotError> {
        Self::build_inner(config, 1, None, &pipeline::policy_layers, events)
    }

    /// [`Snapshot::build`] with the route policy layers chosen by
    /// `policies` instead of [`pipeline::policy_layers`] (tests mount stock
    /// layers this way).
    pub fn build_with_policies(
        config: GatewayConfig,
        version: u64,
        previous: Option<&Snapshot>,
        policies: &PolicyChooser,
    ) -> Result<Self, SnapshotError> {
        let events = previous.and_then(|p| p.events.clone());
        Self::build_inner(config, version, previous, policies, events)
    }

    fn build_inner(
        config: GatewayConfig,
        version: u64,
        previous: Option<&Snapshot>,
        policies: &PolicyChooser,
        events: Option<Arc<EventBus>>,
    ) -> Result<Self, SnapshotError> {
        crate::tls::system_roots::check_config(&config)
            .map_err(|(backend, source)| SnapshotError::SystemRoots { backend, source })?;
        let mut upstreams = Upstreams::build(&config, previous.map(|p| &p.upstreams));
        let policy_runtime = PolicyRuntime {
            auth: crate::auth::AuthRuntime::build(
                &config,
                &mut upstreams,
                previous.map(|p| &p.policy_runtime.auth),
            )
            .map_err(SnapshotError::Auth)?,
            rate_limits: RateLimits::build(
                &config,
                previous.map(|p| &p.policy_runtime.rate_limits),
            ),
            events: events.clone(),
        };
        let graphql = config.graphql.as_ref().map(|section| {
            GraphqlService::for_config(section, previous.and_then(|p| p.graphql.as_ref()))
        });
        let protos_unchanged = previous.is_some_and(|p| p.config.protos == config.protos);
        let descriptors = match (&config.protos, previous) {
            (Some(_), Some(previous)) if protos_unchanged => previous.descriptors.clone(),
            (Some(set), _) => Some(
                set.decode()
                    .map_err(|e| SnapshotError::Descriptors(e.to_string()))?,
            ),
            (None, _) => None,
        };
        let inputs = RouteInputs {
            upstreams: &mut upstreams,
            descriptors: descriptors.as_ref(),
            graphql: graphql.as_ref(),
            previous: previous.map(|p| (p.pipelines.as_slice(), protos_unchanged)),
            policies,
            policy_runtime: &policy_runtime,
            events: events.as_ref(),
        };
        let pipelines = pipeline::build_routes(&config, inputs)?;
        let tls = server_tls(&config, previous)?;
        let hsts = hsts_value(&config);
        let routes = RouteTable::build(&pipelines).map_err(SnapshotError::Conflicts)?;
        Ok(Self {
            version,
            config: Arc::new(config),
            routes,
            pipelines,
            upstreams,
            descriptors,
            graphql,
            policy_runtime,
            tls,
            hsts,
            events,
            loaded_at: SystemTime::now(),
        })
    }
}

/// `server.tls.hsts` as a header value (its text is digits, `;`, spaces
/// and ASCII words, so it is always a valid value).
fn hsts_value(config: &GatewayConfig) -> Option<http::HeaderValue> {
    let hsts = config.server.tls.as_ref()?.hsts?;
    http::HeaderValue::from_str(&hsts.header_text()).ok()
}

/// The listener's TLS config: the previous one when `server.tls` (and so
/// every certificate's bytes) is unchanged, else a new one that keeps the
/// previous ticket keys and session cache when they may be shared
/// (`tls::may_share_sessions`).
fn server_tls(
    config: &GatewayConfig,
    previous: Option<&Snapshot>,
) -> Result<Option<Arc<rustls::ServerConfig>>, SnapshotError> {
    let Some(spec) = &config.server.tls else {
        return Ok(None);
    };
    let running = previous.and_then(|p| p.tls.as_ref().map(|tls| (p, tls)));
    if let Some((previous, tls)) = running
        && previous.config.server.tls.as_ref() == Some(spec)
    {
        return Ok(Some(Arc::clone(tls)));
    }
    let running = running.and_then(|(previous, tls)| {
        let settings = previous.config.server.tls.as_deref()?;
        Some((settings, tls.as_ref()))
    });
    let config = crate::tls::server_config(spec, running)?;
    Ok(Some(config))
}

#[cfg(test)]
mod tests;
