//! Reload of the supergraph: a changed file is picked up by the watcher,
//! a broken one keeps the old graph serving, the caches key on the text
//! (operations) and the normalized operation (plans), and a reload warms
//! the new caches with the hottest operations.

use gateway::config::model::SupergraphSource;
use serde_json::json;
use tests::federation::{FederatedGateway, SUPERGRAPH_FILE_CONFIG, compose_live, endpoints};
use tests::gateway::eventually;

fn supergraph_path(fed: &FederatedGateway) -> std::path::PathBuf {
    let service = fed.gw.gateway.snapshot().graphql.clone().unwrap();
    match &service.source {
        SupergraphSource::File(path) => path.clone(),
        other => panic!("expected a file source, got {other:?}"),
    }
}

fn replace_file(path: &std::path::Path, text: &str) {
    let staging = path.with_extension("tmp");
    std::fs::write(&staging, text).unwrap();
    std::fs::rename(&staging, path).unwrap();
}

/// The supergraph composed from every live subgraph but `users`.
async fn without_users(fed: &FederatedGateway) -> String {
    let rest: Vec<_> = endpoints(&fed.subgraphs)
        .into_iter()
        .filter(|e| e.name != "users")
        .collect();
    compose_live(&rest, |e| e.url.clone()).await
}

/// Waits until `query` (which reads users' fields) fails validation: the
/// graph without `users` serves.
async fn smaller_graph_serves(fed: &FederatedGateway, query: &str) {
    eventually("the smaller supergraph serves", || async {
        fed.post(query, json!({})).await.1["errors"][0]["extensions"]["code"]
            == "GRAPHQL_VALIDATION_FAILED"
    })
    .await;
}

#[tokio::test]
async fn a_changed_supergraph_file_is_reloaded_and_a_broken_one_is_refused() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let path = supergraph_path(&fed);
    let service = fed.gw.gateway.snapshot().graphql.clone().unwrap();
    let query = "{ customers { name } }";
    fed.data(query, json!({})).await;

    replace_file(&path, &without_users(&fed).await);
    smaller_graph_serves(&fed, query).await;

    let mut generation = service.generation();
    generation.mark_unchanged();
    replace_file(&path, "this is not a supergraph {");
    eventually("the broken file is reported", || async {
        service.last_error().is_some()
    })
    .await;
    let (_, body) = fed.post("{ products(first: 1) { name } }", json!({})).await;
    assert!(body["data"]["products"][0]["name"].is_string(), "{body}");
    assert!(
        !generation.has_changed().unwrap(),
        "a broken file must not be swapped in"
    );
}

/// (prepared operations, plans) in the current supergraph's caches.
fn cache_entries(fed: &FederatedGateway) -> (u64, u64) {
    let service = fed.gw.gateway.snapshot().graphql.clone().unwrap();
    let caches = &service.current().unwrap().caches;
    caches.operations.run_pending_tasks();
    caches.plans.run_pending_tasks();
    (caches.operations.entry_count(), caches.plans.entry_count())
}

#[tokio::test]
async fn operations_are_cached_by_text_and_plans_by_normalized_operation() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let id = mock_backends::seed::FIRST_ORDER_ID;
    let first = "query A($id: ID!) { order(id: $id) { status } }";
    fed.data(first, json!({ "id": id })).await;
    fed.data(
        "query A($id: ID!) {\n  order(id: $id) {\n    status\n  }\n}",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(
        cache_entries(&fed),
        (2, 1),
        "two texts, one plan: whitespace shares a plan"
    );
    fed.data(
        first,
        json!({ "id": mock_backends::seed::DELIVERED_ORDER_ID }),
    )
    .await;
    assert_eq!(
        cache_entries(&fed),
        (2, 1),
        "the same text with other variables is a hit"
    );
    fed.data(
        "query B($id: ID!) { order(id: $id) { status } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(
        cache_entries(&fed),
        (3, 2),
        "another operation name is another entry"
    );
    fed.data(
        "query A($id: ID!) { order(id: $id) { total } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(cache_entries(&fed), (4, 3));
}

#[tokio::test]
async fn a_reloaded_supergraph_is_warmed_with_the_hottest_operations() {
    let yaml = "graphql:\n  supergraph: $SUPERGRAPH\n  cache: { operations: 1MiB, plans: 1MiB, warm_up: 1 }\n";
    let fed = FederatedGateway::start(yaml).await;
    let service = fed.gw.gateway.snapshot().graphql.clone().unwrap();
    let hot = "{ customers { name } }";
    let cold = "{ products(first: 1) { name } }";
    for _ in 0..3 {
        fed.data(hot, json!({})).await;
    }
    fed.data(cold, json!({})).await;
    let before = service.current().unwrap();
    let path = supergraph_path(&fed);
    let sdl = std::fs::read_to_string(&path).unwrap();
    let mut generation = service.generation();
    generation.mark_unchanged();
    replace_file(&path, &format!("{sdl}\n# touched\n"));
    tests::mocks::within("the reload", generation.changed())
        .await
        .unwrap();
    let after = service.current().unwrap();
    assert!(!std::sync::Arc::ptr_eq(&before, &after));
    // Warmed before the swap: the hottest operation only, no request yet.
    let warmed: Vec<_> = after
        .caches
        .operations
        .iter()
        .map(|(_, prepared)| prepared.query.to_string())
        .collect();
    assert_eq!(warmed, vec![hot.to_owned()]);
    fed.data(hot, json!({})).await;
    assert_eq!(cache_entries(&fed), (1, 1), "the request was a hit");
}

#[tokio::test]
async fn a_failed_recomposition_keeps_the_old_graph_serving() {
    let yaml = r#"
graphql:
  subgraphs:
    - { name: orders, url: $ORDERS_GRAPHQL }
    - { name: users, url: $USERS_GRAPHQL }
    - { name: products, url: $PRODUCTS_GRAPHQL }
    - { name: payments, url: $PAYMENTS_GRAPHQL }
"#;
    let fed = FederatedGateway::start(yaml).await;
    let service = fed.gw.gateway.snapshot().graphql.clone().unwrap();
    let mut generation = service.generation();
    tests::mocks::within("composition", generation.wait_for(|g| *g >= 1))
        .await
        .unwrap();
    fed.subgraphs
        .users
        .set_forced_status(Some(http::StatusCode::SERVICE_UNAVAILABLE));
    let reload = fed
        .gw
        .client
        .post(fed.gw.admin_url("/reload"))
        .send()
        .await
        .unwrap();
    assert!(reload.status().is_success(), "{}", reload.status());
    eventually("the failed composition is reported", || async {
        service.last_error().is_some()
    })
    .await;
    assert!(service.last_error().unwrap().contains("users"));
    let data = fed.data("{ products(first: 1) { name } }", json!({})).await;
    assert!(data["products"][0]["name"].is_string());
}

/// Reading the supergraph file is not a change. The reload reads the file
/// itself, so a watcher that took reads for changes would reload in a loop
/// forever after the first real change (found as a gateway burning CPU).
#[tokio::test]
async fn reading_the_supergraph_file_does_not_trigger_reloads() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let path = supergraph_path(&fed);
    let service = fed.gw.gateway.snapshot().graphql.clone().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut generation = service.generation();
    for change in 1..=2 {
        for _ in 0..20 {
            std::fs::read(&path).unwrap();
        }
        generation.mark_unchanged();
        replace_file(&path, &format!("{text}\n# change {change}\n"));
        tests::mocks::within("the reload", generation.changed())
            .await
            .unwrap();
    }
    // Two changes, each a rename (one or two events): a handful of loads,
    // not one per read nor an endless chain of them.
    let loads = service.reloads_attempted();
    assert!((2..=4).contains(&loads), "{loads} loads for two changes");
}

/// A supergraph file in a Kubernetes ConfigMap volume: the volume's
/// update swaps its `..data` link, and the new graph serves.
#[tokio::test]
async fn a_supergraph_in_a_config_map_volume_is_reloaded_on_update() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let full = std::fs::read_to_string(supergraph_path(&fed)).unwrap();
    let volume = tempfile::tempdir().unwrap();
    let mounted = tests::config_map::mount(volume.path(), &[("supergraph.graphql", &full)]);
    let config = format!("graphql:\n  supergraph: {}\n", mounted[0].display());
    fed.gw.update_config(&config);
    fed.gw.assert_reloaded(2).await;
    assert_eq!(supergraph_path(&fed), mounted[0]);
    let query = "{ customers { name } }";
    fed.data(query, json!({})).await;

    let smaller = without_users(&fed).await;
    tests::config_map::update(volume.path(), &[("supergraph.graphql", &smaller)]);
    smaller_graph_serves(&fed, query).await;
}
