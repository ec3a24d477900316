//! Splitting operations at `@defer`.

use graphql_tools::parser::parse_query;
use serde_json::{Map, json};

use super::{PathStep, split};

fn compact(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn run(query: &str, variables: serde_json::Value, incremental: bool) -> super::Split {
    let document = parse_query::<String>(query).expect("parses").into_static();
    let variables: Map<String, serde_json::Value> =
        serde_json::from_value(variables).expect("object");
    split(&document, None, &variables, incremental).expect("splits")
}

#[test]
fn a_deferred_inline_fragment_becomes_its_own_operation_from_the_root() {
    let split = run(
        "query Q($id: ID!, $n: Int) { order(id: $id) { id ... @defer(label: \"slow\") { total items(first: $n) { sku } } } }",
        json!({}),
        true,
    );
    assert_eq!(
        compact(&split.primary),
        compact("query Q($id: ID!) { order(id: $id) { id } }")
    );
    assert_eq!(split.deferred.len(), 1);
    let part = &split.deferred[0];
    assert_eq!(part.label.as_deref(), Some("slow"));
    assert_eq!(part.path, vec![PathStep::Field("order".into())]);
    assert_eq!(
        compact(&part.query),
        compact(
            "query Q($id: ID!, $n: Int) { order(id: $id) { ... { total items(first: $n) { sku } } } }"
        )
    );
}

#[test]
fn a_deferred_spread_keeps_its_fragment_and_leaves_valid_selection_sets() {
    let split = run(
        "{ me { ...Details @defer } } fragment Details on User { name friends { ...Name } } fragment Name on User { name }",
        json!({}),
        true,
    );
    // `me` lost its only selection: `__typename` keeps it valid, and the
    // fragments no longer used are left out.
    assert_eq!(
        compact(&split.primary),
        compact("query { me { __typename } }")
    );
    let part = &split.deferred[0];
    assert_eq!(
        compact(&part.query),
        compact(
            "query { me { ... on User { name friends { ...Name } } } } fragment Name on User { name }"
        )
    );
}

#[test]
fn defer_if_false_nested_defers_and_non_incremental_clients_run_inline() {
    let split = run(
        "query($later: Boolean!) { a { ... @defer(if: $later) { x } ... @defer(if: false) { y } } }",
        json!({ "later": false }),
        true,
    );
    assert!(split.deferred.is_empty());
    assert_eq!(
        compact(&split.primary),
        compact("query { a { ... { x } ... { y } } }")
    );
    let split = run(
        "{ a { ... @defer { x ... @defer { y } } } }",
        json!({}),
        true,
    );
    assert_eq!(split.deferred.len(), 1);
    assert_eq!(
        compact(&split.deferred[0].query),
        compact("query { a { ... { x ... { y } } } }")
    );
    let split = run(
        "query($v: Boolean!) { a { ... @defer(if: $v) { x } } }",
        json!({ "v": true }),
        false,
    );
    assert!(split.deferred.is_empty());
    // `$v` was used only by `@defer`: kept, it would fail validation.
    assert_eq!(
        compact(&split.primary),
        compact("query { a { ... { x } } }")
    );
}

#[test]
fn type_conditions_on_the_way_are_part_of_the_path() {
    let split = run(
        "{ pets { name ... on Dog { owner { ... @defer { bio } } } } }",
        json!({}),
        true,
    );
    assert_eq!(
        split.deferred[0].path,
        vec![
            PathStep::Field("pets".into()),
            PathStep::Type("Dog".into()),
            PathStep::Field("owner".into())
        ]
    );
    assert_eq!(
        compact(&split.deferred[0].query),
        compact("query { pets { ... on Dog { owner { ... { bio } } } } }")
    );
}

#[test]
fn mutations_run_inline_and_too_many_defers_are_refused() {
    let document = parse_query::<String>("mutation { a { ... @defer { x } } }")
        .expect("parses")
        .into_static();
    let split = split(&document, None, &Map::new(), true).expect("splits");
    assert!(split.deferred.is_empty());
    let many: String = (0..=super::MAX_DEFERRED)
        .map(|i| format!("... @defer {{ f{i} }} "))
        .collect();
    let document = parse_query::<String>(&format!("{{ a {{ {many} }} }}"))
        .expect("parses")
        .into_static();
    assert!(super::split(&document, None, &Map::new(), true).is_err());
}
