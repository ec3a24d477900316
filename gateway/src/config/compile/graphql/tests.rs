//! Tests of the `graphql:` section: defaults, every key, every mistake.

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
    assert_eq!(graphql.settings, crate::config::model::GraphqlSettings::default());
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
        crate::config::model::PlanningSettings {
            threads: 3,
            max_queued: 0,
            timeout: std::time::Duration::from_millis(250),
        }
    );
    assert_eq!(
        settings.cache,
        crate::config::model::CacheSettings {
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

#[test]
fn a_bad_or_missing_manifest_is_reported() {
    let text =
        errors("graphql:\n  supergraph: sg.graphql\n  persisted_queries: { trusted_only: true }\n");
    assert!(
        text.contains(
            "routes.yaml:3:38: graphql.persisted_queries.trusted_only: needs a `manifest`"
        ),
        "{text}"
    );
    let text = errors(
        "graphql:\n  supergraph: sg.graphql\n  persisted_queries: { manifest: /nonexistent/m.json }\n",
    );
    assert!(
        text.contains(
            "routes.yaml:3:34: graphql.persisted_queries.manifest: cannot read /nonexistent/m.json"
        ),
        "{text}"
    );
}
