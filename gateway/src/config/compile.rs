//! Step two: raw sections → one validated, immutable [`GatewayConfig`].
//!
//! Every check records its error in the shared [`Diagnostics`] and goes on
//! with a fallback value, so one pass finds every mistake. The result is
//! only returned when nothing was recorded.
//!
//! Order: listener settings, backends (so routes can resolve them), routes
//! (pattern, methods, host, action, limits, headers), then route conflicts
//! through `RouteTable::build`, the same check the live router relies on.

mod action_keys;
mod async_status;
mod auth;
mod backends;
pub(super) mod compose;
mod connections;
mod cors;
mod events;
mod graphql;
mod grpc;
mod headers;
mod health_check;
mod load_shedding;
pub(crate) mod log;
mod propagation;
mod proxy;
mod rate_limit;
mod resilience;
mod routes;
mod server;
mod tls;
mod tracing;

pub(crate) use tracing::compile_tracing;

use std::path::Path;
use std::time::Duration;

use super::errors::Diagnostics;
use super::model::{DEFAULT_MAX_CONSUMERS, GatewayConfig, MetricsSettings};
use super::raw::{RawConfig, Text};
use super::units::{parse_duration, parse_size};
use crate::router::RouteTable;

/// Compiles a raw config. `None` if any error was recorded.
pub(crate) fn compile(
    raw: &RawConfig,
    hash: String,
    base_dir: &Path,
    diag: &mut Diagnostics,
) -> Option<GatewayConfig> {
    let (listen, admin) = server::listeners(raw, diag);
    let mut server = server::settings(raw.server.as_ref(), diag);
    server.tls = tls::server_tls(
        raw.server.as_ref().and_then(|server| server.tls.as_ref()),
        base_dir,
        diag,
    );
    let backends = backends::compile_backends(&raw.backends, base_dir, diag);
    let declared_backends = raw
        .backends
        .iter()
        .map(|entry| entry.name.as_str())
        .collect();
    let events = events::compile_events(
        raw.events.as_ref(),
        (&backends, &declared_backends),
        base_dir,
        diag,
    );
    let topic_names: std::collections::BTreeSet<&str> = raw
        .events
        .iter()
        .flat_map(|events| events.topics.iter().map(|(name, _)| name.as_str()))
        .collect();
    let topics = events::TopicScope {
        declared: raw.events.is_some(),
        topics: events.as_ref().map(|events| &events.topics),
        names: &topic_names,
    };
    let grpc_section = grpc::compile_section(raw.grpc.as_ref(), base_dir, diag);
    let auth = auth::compile_auth(raw.auth.as_ref(), &backends, base_dir, diag);
    let auth_declared: std::collections::BTreeSet<&str> = raw
        .auth
        .iter()
        .flat_map(|auth| {
            let providers = auth.jwt_providers.0.iter().map(|(name, _)| name.as_str());
            providers.chain(auth.api_keys.0.iter().map(|(name, _)| name.as_str()))
        })
        .collect();
    let default_cors = cors::compile_cors(raw.cors.as_ref(), "top-level", diag);
    let context = routes::RouteContext {
        label: "grpc",
        pattern: None,
        backends: &backends,
        declared_backends: &declared_backends,
        grpc: grpc_section.as_ref(),
        grpc_declared: raw.grpc.is_some(),
        rate_limits: raw.rate_limits.as_ref(),
        auth: &auth,
        auth_declared: &auth_declared,
        default_cors: default_cors.as_ref(),
        topics,
    };
    let mut routes = routes::compile_routes(&raw.routes, &context, diag);
    let annotated =
        grpc::annotation_routes(raw.grpc.as_ref(), grpc_section.as_ref(), &context, diag);
    routes.extend(annotated.into_iter().map(|mut route| {
        std::sync::Arc::make_mut(&mut route.spec).security.cors = default_cors.clone();
        route
    }));
    let graphql = graphql::compile_graphql(raw.graphql.as_ref(), base_dir, diag);
    if let (Some(section), Some(config)) = (&raw.graphql, &graphql) {
        routes.extend(graphql::endpoint_routes(section, config, &context, diag));
    }
    routes.extend(async_status::status_route(&routes));
    let propagate =
        propagation::compile_propagation(raw.propagate.as_ref(), graphql.as_ref(), diag);
    check_conflicts(&routes, diag);
    let hash = grpc::hash_with_protos(hash, grpc_section.as_ref());
    let proto_files = grpc_section
        .as_ref()
        .map(|section| section.files.clone())
        .unwrap_or_default();
    let protos = grpc_section.map(|section| section.descriptors);
    let routes_declared_empty = raw.routes_declared_empty;
    let hash = graphql::hash_with_manifest(hash, graphql.as_ref());
    let hash = tls::hash_with_tls(hash, server.tls.as_deref(), backends.values());
    let log = log::log_settings(raw.log.as_ref(), base_dir, diag);
    let tracing = tracing::compile_tracing(raw.tracing.as_ref(), base_dir, diag);
    let rate_limits = rate_limit::compile_section(raw.rate_limits.as_ref(), diag);
    if diag.has_errors() {
        return None;
    }
    Some(GatewayConfig {
        listen,
        admin,
        server,
        backends,
        routes: routes.into_iter().map(|route| route.spec).collect(),
        graphql,
        propagate: std::sync::Arc::new(propagate),
        hash,
        proto_files,
        protos,
        routes_declared_empty,
        log,
        metrics: MetricsSettings {
            enabled: raw
                .metrics
                .as_ref()
                .and_then(|metrics| metrics.enabled)
                .unwrap_or(true),
            max_consumers: raw
                .metrics
                .as_ref()
                .and_then(|metrics| metrics.max_consumers)
                .unwrap_or(DEFAULT_MAX_CONSUMERS),
        },
        tracing,
        rate_limits,
        auth,
        events,
    })
}

/// Reports every pair of routes the route table refuses.
fn check_conflicts(routes: &[routes::CompiledRoute], diag: &mut Diagnostics) {
    let specs: Vec<_> = routes.iter().map(|route| route.spec.clone()).collect();
    let Err(conflicts) = RouteTable::build(&specs) else {
        return;
    };
    for conflict in conflicts {
        let (Some(route), Some(other)) = (
            routes.get(conflict.route_index),
            routes.get(conflict.other_index),
        ) else {
            continue;
        };
        let message = if conflict.other_index == conflict.route_index {
            format!("{}: {}", route.label, conflict.message)
        } else {
            let other_line = other.span.start().map_or(0, |mark| mark.line());
            format!(
                "{} (the other route is on line {other_line})",
                conflict.message
            )
        };
        diag.error(&route.span, message);
    }
}

/// Parses an optional duration; `None` if absent or bad (a bad value is
/// recorded, and the caller falls back to its default so compiling goes on).
fn duration(value: Option<&Text>, what: &str, diag: &mut Diagnostics) -> Option<Duration> {
    let text = value?;
    parse_duration(text)
        .map_err(|message| diag.error(text.span(), format!("{what}: {message}")))
        .ok()
}

/// Like [`duration`], and zero is refused too (a timeout of zero would fail
/// every request).
fn positive_duration(value: Option<&Text>, what: &str, diag: &mut Diagnostics) -> Option<Duration> {
    let text = value?;
    let parsed = duration(Some(text), what, diag)?;
    if parsed.is_zero() {
        diag.error(text.span(), format!("{what}: must be greater than zero"));
        return None;
    }
    Some(parsed)
}

/// Parses an optional byte size; a bad value is recorded and `None` returned.
/// A body limit: a size, or `unlimited`. `None` when absent,
/// `Some(None)` for `unlimited`.
fn body_limit(value: Option<&Text>, what: &str, diag: &mut Diagnostics) -> Option<Option<u64>> {
    let text = value?;
    if text.trim() == "unlimited" {
        return Some(None);
    }
    size(Some(text), what, diag).map(Some)
}

fn size(value: Option<&Text>, what: &str, diag: &mut Diagnostics) -> Option<u64> {
    let text = value?;
    parse_size(text)
        .map_err(|message| diag.error(text.span(), format!("{what}: {message}")))
        .ok()
}
