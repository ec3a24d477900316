//! `graphql:`: the federated GraphQL endpoint — where its supergraph comes
//! from (a file, or subgraphs to compose), its protection limits and its
//! switches.

use std::path::PathBuf;

use marked_yaml::Spanned;
use sha2::Digest;

use super::super::errors::Diagnostics;
use super::super::model::{
    CacheSettings, GraphqlSettings, Limits, Manifest, PersistedSettings, PlanningSettings,
    graphiql_assets_path,
};
use super::super::model::{GraphqlConfig, RouteAction, SubgraphEndpoint, SupergraphSource};
use super::super::raw_graphql::{
    RawGraphql, RawGraphqlCache, RawGraphqlLimits, RawGraphqlPlanning, RawPersistedQueries,
};
use super::{positive_duration, size};

/// Compiles the section; `None` when it is absent or wrong.
pub(super) fn compile_graphql(
    raw: Option<&Spanned<RawGraphql>>,
    base_dir: &std::path::Path,
    diag: &mut Diagnostics,
) -> Option<GraphqlConfig> {
    let raw = raw?;
    let source = match (&raw.supergraph, &raw.subgraphs) {
        (Some(file), None) => Some(SupergraphSource::File(
            base_dir.join(PathBuf::from(file.as_str())),
        )),
        (None, Some(list)) => subgraphs(list, diag).map(SupergraphSource::Subgraphs),
        (Some(file), Some(_)) => {
            diag.error(
                file.span(),
                "graphql: set either `supergraph` (a file) or `subgraphs` (a list), not both",
            );
            None
        }
        (None, None) => {
            diag.error(
                raw.span(),
                "graphql: needs `supergraph: <file>` or `subgraphs: [{name, url}]`",
            );
            None
        }
    };
    let path = raw
        .path
        .as_ref()
        .map_or_else(|| "/graphql".to_owned(), |p| p.as_str().to_owned());
    if let Some(text) = raw.path.as_ref().filter(|_| !path.starts_with('/')) {
        diag.error(
            text.span(),
            format!("graphql.path: {path:?} must start with '/'"),
        );
    }
    let defaults = GraphqlSettings::default();
    let settings = GraphqlSettings {
        path,
        limits: limits(raw.limits.as_ref(), diag),
        introspection: raw.introspection.unwrap_or(defaults.introspection),
        console: raw.console.unwrap_or(defaults.console),
        expose_subgraph_errors: raw
            .expose_subgraph_errors
            .unwrap_or(defaults.expose_subgraph_errors),
        planning: planning(raw.planning.as_ref(), diag),
        cache: cache(raw.cache.as_ref(), diag),
        persisted: persisted(raw.persisted_queries.as_ref(), base_dir, diag),
    };
    let listed = match &source {
        Some(SupergraphSource::Subgraphs(list)) => Some(list.as_slice()),
        _ => None,
    };
    let traffic = traffic::compile_traffic(raw.traffic_shaping.as_ref(), listed, diag);
    Some(GraphqlConfig {
        settings,
        source: source?,
        traffic,
    })
}

fn subgraphs(
    list: &Spanned<Vec<super::super::raw_graphql::RawSubgraph>>,
    diag: &mut Diagnostics,
) -> Option<Vec<SubgraphEndpoint>> {
    if list.is_empty() {
        diag.error(list.span(), "graphql.subgraphs: list at least one subgraph");
        return None;
    }
    let before = diag.error_count();
    let mut endpoints: Vec<SubgraphEndpoint> = Vec::new();
    for entry in list.iter() {
        if endpoints.iter().any(|e| e.name == entry.name.as_str()) {
            diag.error(
                entry.name.span(),
                format!(
                    "graphql.subgraphs: {:?} is listed twice",
                    entry.name.as_str()
                ),
            );
        }
        if entry.url.parse::<http::Uri>().map_or(true, |u| {
            u.scheme_str() != Some("http") || u.authority().is_none()
        }) {
            diag.error(
                entry.url.span(),
                format!(
                    "graphql.subgraphs: {:?} is not an http:// URL",
                    entry.url.as_str()
                ),
            );
        }
        endpoints.push(SubgraphEndpoint {
            name: entry.name.as_str().to_owned(),
            url: entry.url.as_str().to_owned(),
        });
    }
    (diag.error_count() == before).then_some(endpoints)
}

fn limits(raw: Option<&RawGraphqlLimits>, diag: &mut Diagnostics) -> Limits {
    let defaults = Limits::default();
    let Some(raw) = raw else { return defaults };
    let count = |value: &Option<Spanned<u64>>,
                 what: &str,
                 default: usize,
                 diag: &mut Diagnostics| match value {
        Some(v) if **v == 0 => {
            diag.error(
                v.span(),
                format!("graphql.limits.{what}: must be at least 1"),
            );
            default
        }
        Some(v) => usize::try_from(**v).unwrap_or(usize::MAX),
        None => default,
    };
    Limits {
        max_depth: count(&raw.max_depth, "max_depth", defaults.max_depth, diag),
        max_aliases: count(&raw.max_aliases, "max_aliases", defaults.max_aliases, diag),
        max_root_fields: count(
            &raw.max_root_fields,
            "max_root_fields",
            defaults.max_root_fields,
            diag,
        ),
        max_expanded_fields: count(
            &raw.max_expanded_fields,
            "max_expanded_fields",
            defaults.max_expanded_fields,
            diag,
        ),
        max_selection_fields: count(
            &raw.max_selection_fields,
            "max_selection_fields",
            defaults.max_selection_fields,
            diag,
        ),
        max_tokens: count(&raw.max_tokens, "max_tokens", defaults.max_tokens, diag),
        max_body_bytes: size(raw.max_body.as_ref(), "graphql.limits.max_body", diag)
            .unwrap_or(defaults.max_body_bytes),
    }
}

fn planning(raw: Option<&RawGraphqlPlanning>, diag: &mut Diagnostics) -> PlanningSettings {
    let defaults = PlanningSettings::default();
    let Some(raw) = raw else { return defaults };
    let threads = match &raw.threads {
        Some(v) if **v == 0 || **v > 256 => {
            diag.error(
                v.span(),
                "graphql.planning.threads: must be between 1 and 256",
            );
            defaults.threads
        }
        Some(v) => usize::try_from(**v).unwrap_or(defaults.threads),
        None => defaults.threads,
    };
    PlanningSettings {
        threads,
        max_queued: raw.max_queued.as_ref().map_or(defaults.max_queued, |v| {
            usize::try_from(**v).unwrap_or(usize::MAX)
        }),
        timeout: positive_duration(raw.timeout.as_ref(), "graphql.planning.timeout", diag)
            .unwrap_or(defaults.timeout),
    }
}

fn cache(raw: Option<&RawGraphqlCache>, diag: &mut Diagnostics) -> CacheSettings {
    let defaults = CacheSettings::default();
    let Some(raw) = raw else { return defaults };
    CacheSettings {
        operations_bytes: size(raw.operations.as_ref(), "graphql.cache.operations", diag)
            .unwrap_or(defaults.operations_bytes),
        plans_bytes: size(raw.plans.as_ref(), "graphql.cache.plans", diag)
            .unwrap_or(defaults.plans_bytes),
        warm_up: raw.warm_up.as_ref().map_or(defaults.warm_up, |v| {
            usize::try_from(**v).unwrap_or(usize::MAX)
        }),
    }
}

fn persisted(
    raw: Option<&RawPersistedQueries>,
    base_dir: &std::path::Path,
    diag: &mut Diagnostics,
) -> PersistedSettings {
    let defaults = PersistedSettings::default();
    let Some(raw) = raw else { return defaults };
    let manifest = raw.manifest.as_ref().and_then(|path| {
        let full = base_dir.join(path.as_str());
        let loaded = std::fs::read(&full)
            .map_err(|e| format!("cannot read {}: {e}", full.display()))
            .and_then(|bytes| Manifest::parse(&bytes));
        loaded
            .map_err(|message| {
                diag.error(
                    path.span(),
                    format!("graphql.persisted_queries.manifest: {message}"),
                )
            })
            .ok()
            .map(std::sync::Arc::new)
    });
    let trusted_only = raw.trusted_only.as_ref().is_some_and(|flag| **flag);
    if let Some(flag) = raw
        .trusted_only
        .as_ref()
        .filter(|f| ***f && raw.manifest.is_none())
    {
        diag.error(
            flag.span(),
            "graphql.persisted_queries.trusted_only: needs a `manifest` of trusted documents",
        );
    }
    PersistedSettings {
        apq: raw.apq.unwrap_or(defaults.apq),
        cache_bytes: size(raw.cache.as_ref(), "graphql.persisted_queries.cache", diag)
            .unwrap_or(defaults.cache_bytes),
        manifest,
        trusted_only,
    }
}

/// The config's hash with the trusted-documents manifest mixed in, so an
/// edited manifest is a changed config on reload.
pub(super) fn hash_with_manifest(hash: String, config: Option<&GraphqlConfig>) -> String {
    match config.and_then(|c| c.settings.persisted.manifest.as_ref()) {
        None => hash,
        Some(manifest) => hex::encode(
            sha2::Sha256::new()
                .chain_update(hash)
                .chain_update(manifest.digest())
                .finalize(),
        ),
    }
}

/// The routes that serve the endpoint: every method on its path, so the
/// handler can answer GET, POST and 405 in the GraphQL shape; and, with
/// the console on, GET on `{path}/assets/{file}` for GraphiQL's bundles.
pub(super) fn endpoint_routes(
    section: &Spanned<RawGraphql>,
    config: &GraphqlConfig,
    context: &super::routes::RouteContext<'_>,
    diag: &mut Diagnostics,
) -> Vec<super::routes::CompiledRoute> {
    let settings = &config.settings;
    let mut routes = Vec::new();
    // The handler enforces `graphql.limits.max_body` itself, so the
    // rejection has the GraphQL shape.
    let label = format!("graphql endpoint {:?}", settings.path);
    let context = super::routes::RouteContext {
        label: &label,
        ..*context
    };
    let security = super::routes::route_security(
        section.auth.as_ref(),
        section.cors.as_ref(),
        &context,
        section.span(),
        diag,
    );
    let assets_security = crate::config::model::security::RouteSecurity {
        auth: None,
        cors: security.cors.clone(),
    };
    routes.extend(route(
        section,
        &settings.path,
        None,
        (RouteAction::Graphql, security),
        diag,
    ));
    if settings.console {
        let assets = format!("{}/{{file}}", graphiql_assets_path(&settings.path));
        let get = Some(vec![http::Method::GET]);
        routes.extend(route(
            section,
            &assets,
            get,
            (RouteAction::GraphiqlAsset, assets_security),
            diag,
        ));
    }
    routes
}

fn route(
    section: &Spanned<RawGraphql>,
    path: &str,
    methods: Option<Vec<http::Method>>,
    (action, security): (RouteAction, crate::config::model::security::RouteSecurity),
    diag: &mut Diagnostics,
) -> Option<super::routes::CompiledRoute> {
    let pattern = crate::router::PathPattern::parse(path)
        .map_err(|e| diag.error(section.span(), format!("graphql.path: {e}")))
        .ok()?;
    let label = match action {
        RouteAction::GraphiqlAsset => format!("GraphiQL assets {path:?}"),
        _ => format!("graphql endpoint {path:?}"),
    };
    let spec = crate::config::model::RouteSpec {
        load_shedding: None,
        name: format!("graphql {path}"),
        methods,
        path: pattern,
        host: None,
        action,
        timeout: None,
        body_idle_timeout: None,
        max_body: Some(u64::MAX),
        headers: Default::default(),
        rate_limits: Vec::new(),
        security,
        retry: None,
        emit: Vec::new(),
        async_spec: None,
    };
    Some(super::routes::CompiledRoute {
        spec: std::sync::Arc::new(spec),
        label,
        span: *section.span(),
    })
}

mod traffic;

#[cfg(test)]
mod tests;
