//! Reload of the supergraph: a changed file is picked up by the watcher,
//! a broken one keeps the old graph serving, and the plan cache keys on
//! the normalized operation.

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

#[tokio::test]
async fn a_changed_supergraph_file_is_reloaded_and_a_broken_one_is_refused() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let path = supergraph_path(&fed);
    let service = fed.gw.gateway.snapshot().graphql.clone().unwrap();
    let query = "{ customers { name } }";
    fed.data(query, json!({})).await;

    let without_users: Vec<_> = endpoints(&fed.subgraphs)
        .into_iter()
        .filter(|e| e.name != "users")
        .collect();
    replace_file(
        &path,
        &compose_live(&without_users, |e| e.url.clone()).await,
    );
    eventually("the smaller supergraph serves", || async {
        fed.post(query, json!({})).await.1["errors"][0]["extensions"]["code"]
            == "GRAPHQL_VALIDATION_FAILED"
    })
    .await;

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

#[tokio::test]
async fn plans_are_cached_by_normalized_operation_and_name() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let supergraph = fed
        .gw
        .gateway
        .snapshot()
        .graphql
        .clone()
        .unwrap()
        .current()
        .unwrap();
    let entries = || async {
        supergraph.plan_cache.run_pending_tasks().await;
        supergraph.plan_cache.entry_count()
    };
    let id = mock_backends::seed::FIRST_ORDER_ID;
    fed.data(
        "query A($id: ID!) { order(id: $id) { status } }",
        json!({ "id": id }),
    )
    .await;
    fed.data(
        "query A($id: ID!) {\n  order(id: $id) {\n    status\n  }\n}",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(
        entries().await,
        1,
        "whitespace and variable values share a plan"
    );
    fed.data(
        "query B($id: ID!) { order(id: $id) { status } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(
        entries().await,
        2,
        "another operation name is another entry"
    );
    fed.data(
        "query A($id: ID!) { order(id: $id) { total } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(entries().await, 3);
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
