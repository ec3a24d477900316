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
    assert_eq!(
        graphql.settings,
        crate::config::model::GraphqlSettings::default()
    );
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

#[test]
fn traffic_shaping_defaults_to_the_old_fixed_values_and_overrides_key_by_key() {
    use crate::config::model::{LoadBalancing, SubgraphBackendSettings};
    use std::time::Duration;
    let plain = load_str("graphql:\n  supergraph: sg.graphql\n", "routes.yaml").unwrap();
    let traffic = plain.graphql.unwrap().traffic;
    assert_eq!(traffic.all, SubgraphBackendSettings::default());
    assert_eq!(traffic.all.request_timeout, Duration::from_secs(30));
    assert_eq!(traffic.all.max_connections, 512);
    let yaml = "graphql:\n  supergraph: sg.graphql\n  traffic_shaping:\n    all: { request_timeout: 5s, max_connections: 64 }\n    subgraphs:\n      products: { request_timeout: 1s, load_balancing: round_robin, ejection: { cooldown: 2s } }\n";
    let traffic = load_str(yaml, "routes.yaml")
        .unwrap()
        .graphql
        .unwrap()
        .traffic;
    assert_eq!(traffic.all.request_timeout, Duration::from_secs(5));
    let products = traffic.for_subgraph("products");
    assert_eq!(products.request_timeout, Duration::from_secs(1));
    assert_eq!(products.max_connections, 64, "unset keys come from `all`");
    assert_eq!(products.load_balancing, LoadBalancing::RoundRobin);
    assert_eq!(products.ejection.cooldown, Duration::from_secs(2));
    assert_eq!(products.ejection.consecutive_failures, 5);
    assert_eq!(traffic.for_subgraph("reviews"), &traffic.all);
    let spec = traffic.backend_spec("products", "http://127.0.0.1:9/".parse().unwrap());
    assert_eq!(spec.name, "subgraph:products");
    assert_eq!(spec.request_timeout, Duration::from_secs(1));
}

#[test]
fn every_traffic_shaping_mistake_is_reported_with_its_position() {
    let yaml = "graphql:\n  subgraphs: [{ name: products, url: \"http://127.0.0.1:1/graphql\" }]\n  traffic_shaping:\n    all: { request_timeout: 0s, max_connections: 0 }\n    subgraphs:\n      reviews: { connect_timeout: soon, ejection: { consecutive_failures: 0 } }\n";
    insta::assert_snapshot!(errors(yaml));
}
