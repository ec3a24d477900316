//! The committed `supergraph.graphql` is what the gateway composes from
//! the live subgraphs (with their default URLs), and the gateway also
//! serves a subgraph list it composes itself at start.
//!
//! After a schema change, regenerate the file with
//! `UPDATE_SUPERGRAPH=1 cargo test -p tests --test e2e graphql_supergraph`,
//! and the reference composer's fixtures with
//! `UPDATE_REFERENCE_SUBGRAPHS=1 cargo test -p tests --test e2e graphql_supergraph`
//! then `npm ci && node compose.mjs` in `tests/fixtures/compose-reference/`
//! (the gateway's `supergraph_compose::reference_tests` compare our
//! composer with that output).

use gateway::graphql::Supergraph;
use mock_backends::SubgraphKind;
use mock_backends::seed::FIRST_ORDER_ID;
use serde_json::json;
use tests::federation::{FederatedGateway, SUPERGRAPH_FILE_CONFIG, compose_live, endpoints};
use tests::gateway::repo_path;

#[tokio::test]
async fn committed_supergraph_matches_the_live_composition() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let default_url = |name: &str| {
        let kind = SubgraphKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .unwrap();
        format!("http://{}/graphql", kind.default_addr())
    };
    let composed = compose_live(&endpoints(&fed.subgraphs), |e| default_url(&e.name)).await;
    let path = repo_path("supergraph.graphql");
    if std::env::var_os("UPDATE_SUPERGRAPH").is_some() {
        std::fs::write(&path, &composed).unwrap();
    }
    let committed = std::fs::read_to_string(&path).expect("supergraph.graphql is committed");
    assert_eq!(
        committed, composed,
        "supergraph.graphql is stale: regenerate it (see the module docs)"
    );
    Supergraph::from_sdl(&committed, &Default::default())
        .expect("the planner accepts the committed supergraph");
}

#[test]
fn the_reference_composer_fixtures_hold_the_mocks_current_sdl() {
    let store = std::sync::Arc::new(mock_backends::Store::seeded());
    let update = std::env::var_os("UPDATE_REFERENCE_SUBGRAPHS").is_some();
    for kind in SubgraphKind::ALL {
        let path = repo_path(&format!(
            "tests/fixtures/compose-reference/subgraphs/{kind}.graphql"
        ));
        let live = kind.sdl(std::sync::Arc::clone(&store));
        if update {
            std::fs::write(&path, &live).unwrap();
        }
        let committed = std::fs::read_to_string(&path).expect("the fixture is committed");
        assert_eq!(
            committed,
            live,
            "{} is stale: regenerate the fixtures (see the module docs)",
            path.display()
        );
    }
}

#[tokio::test]
async fn a_subgraph_list_is_composed_at_start() {
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
    let query = "query($id: ID!) { order(id: $id) { customer { name } payment { status } } }";
    let data = fed.data(query, json!({ "id": FIRST_ORDER_ID })).await;
    assert_eq!(data["order"]["customer"]["name"], "John Doe");
}
