//! The written representation is the JSON text of the value one, in
//! every case: key fields, aliases read under the selection's name,
//! nested lists and objects, type conditions by possible types, repeated
//! keys (the writer declines: the value path merges them), invalid and
//! not applicable entities.

use hive_router_query_planner::ast::selection_set::SelectionSet;
use hive_router_query_planner::state::supergraph_state::SupergraphState;
use hive_router_query_planner::utils::parsing::safe_parse_operation;
use serde_json::{Value, json};

use super::*;
use crate::graphql::response_types::ResponseTypes;

fn state() -> (SupergraphState, ResponseTypes) {
    let sdl = r#"type Query { search: [Node] }
        interface Node { id: ID! }
        type Product implements Node @key(fields: "upc") {
            id: ID! upc: String! name: String dims: Dims tags: [Tag] }
        type Order implements Node @key(fields: "id") { id: ID! total: Float }
        type Dims { w: Int h: Int }
        type Tag { label: String weight: Float }"#;
    crate::graphql::supergraph_compose::one_subgraph_types(sdl)
}

/// The selection set of `{ … }`, as the planner's AST holds it.
fn requires(selection: &str) -> SelectionSet {
    let document = safe_parse_operation(selection).unwrap();
    let Some(graphql_tools::static_graphql::query::Definition::Operation(operation)) =
        document.definitions.into_iter().next()
    else {
        panic!("no operation in {selection}");
    };
    match operation {
        graphql_tools::static_graphql::query::OperationDefinition::SelectionSet(set) => set.into(),
        _ => panic!("{selection} is not a bare selection set"),
    }
}

/// What the writer gives, compared with the value path's JSON text.
fn both(entity: &Value, selection: &str) -> Result<Option<String>, KeyRepeats> {
    let (state, index) = state();
    let types = PossibleTypes {
        state: &state,
        index: &index,
    };
    let requires = requires(selection);
    let mut out = Vec::new();
    let written = write_representation(entity, &requires, types, &mut out)?;
    let expected = match representation(entity, &requires, types) {
        Representation::Valid(value) => Some(serde_json::to_string(&value).unwrap()),
        Representation::Invalid(field) => Some(format!("invalid {field}")),
        Representation::NotApplicable => None,
    };
    let got = match written {
        Representation::Valid(()) => Some(String::from_utf8(out).unwrap()),
        Representation::Invalid(field) => Some(format!("invalid {field}")),
        Representation::NotApplicable => None,
    };
    assert_eq!(got, expected, "{selection} over {entity}");
    Ok(got)
}

#[test]
fn key_fields_nested_objects_and_lists_are_written_as_the_value_is() {
    let entity = json!({
        "__typename": "Product", "upc": "u-1", "name": "Lamp \"de luxe\"\n",
        "dims": {"w": 3, "h": null, "extra": 1},
        "tags": [{"label": "a", "weight": 1.5}, null, {"label": "b"}],
        "id": "p1", "unselected": true
    });
    let got = both(
        &entity,
        "{ ... on Product { __typename upc dims { h w } tags { weight label } name } }",
    );
    assert_eq!(
        got.ok().flatten().as_deref(),
        Some(
            r#"{"__typename":"Product","upc":"u-1","dims":{"h":null,"w":3},"tags":[{"weight":1.5,"label":"a"},null,{"label":"b"}],"name":"Lamp \"de luxe\"\n"}"#
        )
    );
}

#[test]
fn a_field_fetched_under_an_internal_alias_is_sent_under_its_name() {
    // `dims: _internal_qp_alias_0 { … }`: read at the alias's selection
    // name, sent under the field name (see `Projector::field_into`).
    let entity = json!({"__typename": "Product", "upc": "u", "_internal_qp_alias_0": {"w": 1}});
    let got = both(
        &entity,
        "{ ... on Product { __typename upc dims: _internal_qp_alias_0 { w } } }",
    );
    assert_eq!(
        got.ok().flatten().as_deref(),
        Some(r#"{"__typename":"Product","upc":"u","dims":{"w":1}}"#)
    );
}

#[test]
fn type_conditions_match_by_possible_types_and_absent_fields_are_left_out() {
    let order = json!({"__typename": "Order", "id": "o1"});
    let got = both(
        &order,
        "{ ... on Product { upc } ... on Node { __typename id total } }",
    );
    assert_eq!(
        got.ok().flatten().as_deref(),
        Some(r#"{"__typename":"Order","id":"o1"}"#)
    );
    // No condition matches: nothing to send.
    assert!(matches!(
        both(&order, "{ ... on Product { upc } }"),
        Ok(None)
    ));
    // Not an object at all.
    assert!(matches!(
        both(&json!(null), "{ ... on Product { upc } }"),
        Ok(None)
    ));
}

#[test]
fn an_entity_without_its_key_field_is_invalid_in_both() {
    let entity = json!({"__typename": "Product", "upc": null, "name": "x"});
    let got = both(&entity, "{ ... on Product { __typename upc name } }");
    assert_eq!(got.ok().flatten().as_deref(), Some("invalid upc"));
}

#[test]
fn a_repeated_key_is_left_to_the_value_path_at_any_depth() {
    let entity = json!({"__typename": "Product", "upc": "u", "dims": {"w": 1, "h": 2}});
    assert!(both(&entity, "{ ... on Product { upc } ... on Node { upc } }").is_err());
    assert!(both(&entity, "{ ... on Product { upc dims { w } dims { h } } }").is_err());
    assert!(both(&entity, "{ ... on Product { upc dims { w w } } }").is_err());
    // The same key in sibling objects is not a repeat.
    let listed =
        json!({"__typename": "Product", "upc": "u", "tags": [{"label": "a"}, {"label": "b"}]});
    assert!(both(&listed, "{ ... on Product { upc tags { label } } }").is_ok());
}
