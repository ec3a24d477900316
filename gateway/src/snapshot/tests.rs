//! Runtime objects are built with the snapshot, never by the config, and
//! carried over while their inputs are unchanged.

use std::sync::Arc;

use super::Snapshot;
use crate::compose::cache::built_on_this_thread;
use crate::config::load_str;
use crate::config::model::RouteAction;
use crate::pipeline::RouteHandler;

fn yaml(sequential: &str) -> String {
    format!(
        r#"
backends:
  orders: {{ url: "http://127.0.0.1:1" }}
routes:
  - path: /details/{{id}}
    compose:
      sequential: {sequential}
      cache: {{ ttl: 60s }}
      calls:
        order: {{ backend: orders, path: "/v1/orders/{{id}}", cache: {{ ttl: 10s }} }}
  - path: /other
    backend: orders
"#
    )
}

fn plan(snapshot: &Snapshot) -> &Arc<crate::compose::ComposePlan> {
    match &snapshot.pipelines[0].handler {
        RouteHandler::Compose(plan) => plan,
        other => panic!("not a compose route: {other:?}"),
    }
}

#[test]
fn compiling_a_config_builds_no_cache_and_the_snapshot_builds_them() {
    let before = built_on_this_thread();
    let config = load_str(&yaml("false"), "routes.yaml").unwrap();
    assert_eq!(
        built_on_this_thread(),
        before,
        "`gateway check` built a cache"
    );
    let RouteAction::Compose(spec) = &config.routes[0].action else {
        panic!("not a compose route")
    };
    assert!(spec.response_cache.is_some() && spec.calls[0].cache.is_some());
    let _snapshot = Snapshot::build(config, 1, None).unwrap();
    assert_eq!(
        built_on_this_thread(),
        before + 2,
        "response and call cache"
    );
}

#[test]
fn an_unchanged_compose_route_keeps_its_caches_and_coalescer_across_a_reload() {
    let first = Snapshot::build(load_str(&yaml("false"), "routes.yaml").unwrap(), 1, None).unwrap();
    let before = built_on_this_thread();
    let same = load_str(&yaml("false"), "routes.yaml").unwrap();
    let second = Snapshot::build(same, 2, Some(&first)).unwrap();
    assert_eq!(built_on_this_thread(), before, "caches were carried over");
    assert!(Arc::ptr_eq(
        &plan(&first).coalescer,
        &plan(&second).coalescer
    ));
    assert!(Arc::ptr_eq(
        &plan(&first).calls[0].pool,
        &plan(&second).calls[0].pool
    ));
    let changed = load_str(&yaml("true"), "routes.yaml").unwrap();
    let third = Snapshot::build(changed, 3, Some(&second)).unwrap();
    assert_eq!(
        built_on_this_thread(),
        before + 2,
        "a changed route gets fresh caches"
    );
    assert!(!Arc::ptr_eq(
        &plan(&second).coalescer,
        &plan(&third).coalescer
    ));
}
