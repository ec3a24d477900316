//! Composition of small subgraphs, checked by planning against the result.

use hive_router_query_planner::ast::normalization::normalize_operation;
use hive_router_query_planner::graph::PlannerOverrideContext;
use hive_router_query_planner::planner::{Planner, QueryPlannerOptions};
use hive_router_query_planner::utils::cancellation::CancellationToken;
use hive_router_query_planner::utils::parsing::{safe_parse_operation, safe_parse_schema};

use super::*;

fn subgraph(name: &str, sdl: &str) -> SubgraphSdl {
    SubgraphSdl {
        name: name.to_owned(),
        url: format!("http://{name}.test/graphql"),
        sdl: sdl.to_owned(),
    }
}

const ORDERS: &str = r#"
type Order @key(fields: "id") { id: ID! total: Float! product: Product! weight: Int @requires(fields: "product { grams }") secret: String @inaccessible }
type Product @key(fields: "id") { id: ID! grams: Int! @external }
type Query { order(id: ID!): Order }
extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
"#;
const PRODUCTS: &str = r#"
type Product @key(fields: "id") { id: ID! grams: Int! name: String! @shareable }
type Query { product(id: ID!): Product }
"#;

pub(super) fn plan(supergraph: &str, query: &str) -> String {
    let schema = safe_parse_schema(supergraph).expect("supergraph parses");
    let planner =
        Planner::new_from_supergraph(&schema, QueryPlannerOptions::default()).expect("planner");
    let operation = safe_parse_operation(query).expect("query parses");
    let normalized =
        normalize_operation(&planner.supergraph, &operation, None).expect("normalized");
    let plan = planner
        .plan_from_normalized_operation(
            normalized.executable_operation(),
            PlannerOverrideContext::default(),
            &CancellationToken::new(),
        )
        .expect("planned");
    serde_json::to_string(&plan).expect("plan serializes")
}

#[test]
fn composed_supergraph_is_planned_across_subgraphs() {
    let supergraph =
        compose_supergraph(&[subgraph("orders", ORDERS), subgraph("products", PRODUCTS)]).unwrap();
    assert!(
        supergraph.contains("@join__type(graph: ORDERS, key: \"id\")"),
        "{supergraph}"
    );
    assert!(supergraph.contains("@join__field(graph: ORDERS, requires: \"product { grams }\")"));
    assert!(supergraph.contains(
        "grams: Int! @join__field(graph: ORDERS, external: true) @join__field(graph: PRODUCTS)"
    ));
    assert!(supergraph.contains("secret: String @inaccessible"));
    let plan = plan(
        &supergraph,
        "{ order(id: \"1\") { total weight product { name } } }",
    );
    assert!(plan.contains("\"serviceName\":\"orders\""), "{plan}");
    assert!(plan.contains("\"serviceName\":\"products\""), "{plan}");
    assert!(plan.contains("Flatten"), "{plan}");
}

#[test]
fn the_same_type_kind_is_required() {
    let other = "type Product { id: ID! } type Query { a: Int }";
    let union = "union Product = Query type Query { b: Int }";
    let error = compose_supergraph(&[subgraph("a", other), subgraph("b", union)]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "type \"Product\" is a type in one subgraph and a union in another"
    );
}

#[test]
fn invalid_sdl_names_the_subgraph() {
    let error = compose_supergraph(&[subgraph("broken", "type {")]).unwrap_err();
    assert!(
        matches!(error, SupergraphComposeError::Parse { ref subgraph, .. } if subgraph == "broken")
    );
}

#[test]
fn graph_names_are_upper_snake_case() {
    assert_eq!(graph_enum_name("order-service"), "ORDER_SERVICE");
    assert_eq!(graph_enum_name("2fa"), "_2FA");
}
