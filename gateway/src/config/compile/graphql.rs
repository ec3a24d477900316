//! `graphql:`: the federated GraphQL endpoint — where its supergraph comes
//! from (a file, or subgraphs to compose), its protection limits and its
//! switches.

use std::path::PathBuf;

use marked_yaml::Spanned;

use super::super::errors::Diagnostics;
use super::super::model::{GraphqlConfig, RouteAction, SubgraphEndpoint, SupergraphSource};
use super::super::raw_graphql::{
    RawGraphql, RawGraphqlCache, RawGraphqlLimits, RawGraphqlPlanning, RawPersistedQueries,
};
use super::{positive_duration, size};
use crate::graphql::limits::Limits;
use crate::graphql::operation_cache::CacheSettings;
use crate::graphql::persisted::PersistedSettings;
use crate::graphql::planning::PlanningSettings;
use crate::graphql::{GraphqlSettings, graphiql};

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
        persisted: persisted(raw.persisted_queries.as_ref(), diag),
    };
    Some(GraphqlConfig {
        settings,
        source: source?,
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

fn persisted(raw: Option<&RawPersistedQueries>, diag: &mut Diagnostics) -> PersistedSettings {
    let defaults = PersistedSettings::default();
    let Some(raw) = raw else { return defaults };
    PersistedSettings {
        apq: raw.apq.unwrap_or(defaults.apq),
        cache_bytes: size(raw.cache.as_ref(), "graphql.persisted_queries.cache", diag)
            .unwrap_or(defaults.cache_bytes),
    }
}

/// The routes that serve the endpoint: every method on its path, so the
/// handler can answer GET, POST and 405 in the GraphQL shape; and, with
/// the console on, GET on `{path}/assets/{file}` for GraphiQL's bundles.
pub(super) fn endpoint_routes(
    section: &Spanned<RawGraphql>,
    config: &GraphqlConfig,
    diag: &mut Diagnostics,
) -> Vec<super::routes::CompiledRoute> {
    let settings = &config.settings;
    let mut routes = Vec::new();
    // The handler enforces `graphql.limits.max_body` itself, so the
    // rejection has the GraphQL shape.
    routes.extend(route(
        section,
        &settings.path,
        None,
        RouteAction::Graphql,
        diag,
    ));
    if settings.console {
        let assets = format!("{}/{{file}}", graphiql::assets_path(&settings.path));
        let get = Some(vec![http::Method::GET]);
        routes.extend(route(
            section,
            &assets,
            get,
            RouteAction::GraphiqlAsset,
            diag,
        ));
    }
    routes
}

fn route(
    section: &Spanned<RawGraphql>,
    path: &str,
    methods: Option<Vec<http::Method>>,
    action: RouteAction,
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
        name: format!("graphql {path}"),
        methods,
        path: pattern,
        host: None,
        action,
        timeout: None,
        max_body: Some(u64::MAX),
        headers: Default::default(),
    };
    Some(super::routes::CompiledRoute {
        spec: std::sync::Arc::new(spec),
        label,
        span: *section.span(),
    })
}

#[cfg(test)]
mod tests {
    use crate::config::load_str;
    use crate::config::model::SupergraphSource;

    fn errors(yaml: &str) -> String {
        load_str(yaml, "routes.yaml").unwrap_err().to_string()
    }

    #[test]
    fn a_supergraph_file_section_compiles_with_defaults() {
        let config = load_str("graphql:\n  supergraph: sg.graphql\n", "routes.yaml").unwrap();
        let graphql = config.graphql.unwrap();
        assert!(
            matches!(&graphql.source, SupergraphSource::File(path) if path.ends_with("sg.graphql")),
            "{:?}",
            graphql.source
        );
        assert_eq!(graphql.settings, crate::graphql::GraphqlSettings::default());
        assert!(config.routes.iter().any(|r| r.name == "graphql /graphql"));
        assert!(
            config
                .routes
                .iter()
                .any(|r| r.name == "graphql /graphql/assets/{file}")
        );
    }

    #[test]
    fn every_graphql_mistake_is_reported_with_its_position() {
        let yaml = "graphql:\n  supergraph: a.graphql\n  subgraphs:\n    - { name: a, url: ftp://x }\n  limits: { max_depth: 0, max_body: lots }\n";
        let text = errors(yaml);
        assert!(
            text.contains("routes.yaml:2:15: graphql: set either `supergraph`"),
            "{text}"
        );
        assert!(
            text.contains("graphql.limits.max_depth: must be at least 1"),
            "{text}"
        );
        assert!(text.contains("graphql.limits.max_body"), "{text}");
        let unknown = errors("graphql:\n  supergraph: a\n  colour: blue\n");
        assert!(unknown.contains("colour"), "{unknown}");
    }

    #[test]
    fn planning_cache_and_new_limits_compile() {
        let yaml = "graphql:\n  supergraph: sg.graphql\n  limits: { max_expanded_fields: 100, max_selection_fields: 10 }\n  planning: { threads: 3, max_queued: 0, timeout: 250ms }\n  cache: { operations: 1MiB, plans: 2MB, warm_up: 0 }\n";
        let settings = load_str(yaml, "routes.yaml")
            .unwrap()
            .graphql
            .unwrap()
            .settings;
        assert_eq!(settings.limits.max_expanded_fields, 100);
        assert_eq!(settings.limits.max_selection_fields, 10);
        assert_eq!(
            settings.planning,
            crate::graphql::planning::PlanningSettings {
                threads: 3,
                max_queued: 0,
                timeout: std::time::Duration::from_millis(250),
            }
        );
        assert_eq!(
            settings.cache,
            crate::graphql::operation_cache::CacheSettings {
                operations_bytes: 1024 * 1024,
                plans_bytes: 2_000_000,
                warm_up: 0,
            }
        );
    }

    #[test]
    fn bad_planning_and_cache_values_are_reported_together() {
        let yaml = "graphql:\n  supergraph: sg.graphql\n  limits: { max_expanded_fields: 0 }\n  planning: { threads: 0, timeout: 0s, queue: 3 }\n";
        let text = errors(yaml);
        assert!(text.contains("planning"), "{text}");
        assert!(text.contains("queue"), "{text}");
        let yaml = "graphql:\n  supergraph: sg.graphql\n  limits: { max_expanded_fields: 0 }\n  planning: { threads: 0, timeout: 0s }\n  cache: { plans: huge }\n";
        let text = errors(yaml);
        for expected in [
            "routes.yaml:3:34: graphql.limits.max_expanded_fields: must be at least 1",
            "routes.yaml:4:24: graphql.planning.threads: must be between 1 and 256",
            "routes.yaml:4:36: graphql.planning.timeout: must be greater than zero",
            "graphql.cache.plans",
        ] {
            assert!(text.contains(expected), "{expected} not in {text}");
        }
    }
}
