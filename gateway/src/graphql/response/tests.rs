//! Response shaping over a small supergraph: aliases, fragments on
//! abstract types, `@skip`, and null propagation; every case also checks
//! that the byte writer gives the same data and errors as the tree.

use hive_router_query_planner::ast::normalization::normalize_operation;
use hive_router_query_planner::consumer_schema::ConsumerSchema;
use hive_router_query_planner::state::supergraph_state::SupergraphState;
use hive_router_query_planner::utils::parsing::safe_parse_operation;
use serde_json::{Map, Value, json};

use super::Projection;
use crate::graphql::response_types::ResponseTypes;
use crate::graphql::supergraph_compose::one_subgraph_supergraph;

const SDL: &str = r#"
type Query { me: User  pets: [Pet!]  pet: Pet  status: Status  statuses: [Status!] }
type User { id: ID! name: String! nick: String }
interface Pet { name: String! owner: User }
type Dog implements Pet { name: String! barks: Boolean! owner: User }
type Cat implements Pet { name: String! owner: User }
type Robot implements Pet @inaccessible { name: String! owner: User }
enum Status { OPEN CLOSED SECRET @inaccessible }
"#;

fn shape(query: &str, variables: Value, data: Value) -> (Value, Vec<String>) {
    let supergraph = one_subgraph_supergraph(SDL);
    let state = SupergraphState::new(&supergraph);
    let types = ResponseTypes::new(
        &state,
        &ConsumerSchema::new_from_supergraph(&supergraph).document,
    );
    let operation = safe_parse_operation(query).unwrap();
    let normalized = normalize_operation(&state, &operation, None).unwrap();
    let variables: Map<String, Value> = serde_json::from_value(variables).unwrap();
    let mut errors = Vec::new();
    let mut projection = Projection {
        types: &types,
        withheld: &[],
        variables: &variables,
        errors: &mut errors,
    };
    let selections = &normalized.executable_operation().selection_set;
    let shaped = projection.project_root(&data, "Query", selections);
    // The byte writer must give the same data and the same errors.
    let mut written_errors = Vec::new();
    let mut writer = Projection {
        types: &types,
        withheld: &[],
        variables: &variables,
        errors: &mut written_errors,
    };
    let mut bytes = Vec::new();
    writer.write_root(&data, "Query", selections, &mut bytes);
    let written: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        written,
        shaped,
        "written: {}",
        String::from_utf8_lossy(&bytes)
    );
    assert_eq!(json!(written_errors), json!(errors));
    (
        shaped,
        errors
            .into_iter()
            .map(|e| e.extensions["code"].to_string())
            .collect(),
    )
}

#[test]
fn aliases_typename_and_fragments_on_an_interface() {
    let data = json!({ "pets": [
        { "__typename": "Dog", "name": "Rex", "barks": true },
        { "__typename": "Cat", "name": "Tom" } ] });
    let query = "{ pets { kind: __typename name ... on Dog { barks } } }";
    let (shaped, errors) = shape(query, json!({}), data);
    assert!(errors.is_empty());
    assert_eq!(
        shaped,
        json!({ "pets": [
        { "kind": "Dog", "name": "Rex", "barks": true },
        { "kind": "Cat", "name": "Tom" } ] })
    );
}

#[test]
fn a_null_non_null_field_nulls_its_nullable_parent_once() {
    let data = json!({ "me": { "id": "1", "name": null, "nick": "x" } });
    let (shaped, errors) = shape("{ me { id name nick } }", json!({}), data);
    assert_eq!(shaped, json!({ "me": null }));
    assert_eq!(errors, ["\"NULL_IN_NON_NULL_FIELD\""]);
}

#[test]
fn a_null_list_item_nulls_the_nullable_list() {
    let data = json!({ "pets": [{ "__typename": "Cat", "name": "Tom" }, null] });
    let (shaped, _) = shape("{ pets { name } }", json!({}), data);
    assert_eq!(shaped, json!({ "pets": null }));
}

#[test]
fn skip_and_include_follow_the_variables() {
    let data = json!({ "me": { "id": "1", "name": "Ada", "nick": "a" } });
    let query =
        "query($s: Boolean!, $i: Boolean!) { me { id name @skip(if: $s) nick @include(if: $i) } }";
    let (shaped, _) = shape(query, json!({ "s": true, "i": false }), data.clone());
    assert_eq!(shaped, json!({ "me": { "id": "1" } }));
    let (shaped, _) = shape(query, json!({ "s": false, "i": true }), data);
    assert_eq!(
        shaped,
        json!({ "me": { "id": "1", "name": "Ada", "nick": "a" } })
    );
}

#[test]
fn one_response_key_across_type_conditions_is_merged_not_overwritten() {
    let data = json!({ "pets": [
        { "__typename": "Dog", "name": "Rex", "owner": { "id": "1", "name": "Ada" } },
        { "__typename": "Cat", "name": "Tom", "owner": { "id": "2", "name": "Bob" } } ] });
    let query = "{ pets { ... on Dog { owner { id } } ... on Pet { owner { name } } } }";
    let (shaped, errors) = shape(query, json!({}), data);
    assert!(errors.is_empty());
    assert_eq!(
        shaped,
        json!({ "pets": [
        { "owner": { "id": "1", "name": "Ada" } },
        { "owner": { "name": "Bob" } } ] })
    );
}

#[test]
fn an_inaccessible_enum_value_is_null_with_an_error_and_propagates_in_non_null_lists() {
    let data = json!({ "status": "SECRET", "statuses": ["OPEN", "SECRET"] });
    let (shaped, errors) = shape("{ status statuses }", json!({}), data);
    assert_eq!(shaped, json!({ "status": null, "statuses": null }));
    assert_eq!(
        errors,
        vec![
            "\"RESPONSE_VALIDATION_FAILED\"",
            "\"RESPONSE_VALIDATION_FAILED\""
        ]
    );
    let (shaped, errors) = shape("{ status }", json!({}), json!({ "status": "CLOSED" }));
    assert_eq!(shaped, json!({ "status": "CLOSED" }));
    assert!(errors.is_empty());
}

#[test]
fn an_object_of_an_inaccessible_type_is_null_with_an_error_and_propagates() {
    let data = json!({
        "pet": { "__typename": "Robot", "name": "R2" },
        "pets": [{ "__typename": "Dog", "name": "Rex" }, { "__typename": "Robot", "name": "R2" }],
    });
    let (shaped, errors) = shape("{ pet { name } pets { name } }", json!({}), data);
    // `pets: [Pet!]`: the hidden element nulls the whole (nullable) list.
    assert_eq!(shaped, json!({ "pet": null, "pets": null }));
    assert_eq!(errors.len(), 2);
    assert!(
        errors
            .iter()
            .all(|code| code == "\"RESPONSE_VALIDATION_FAILED\"")
    );
}

#[test]
fn a_null_deep_in_a_list_rewinds_only_its_nullable_parent() {
    let data = json!({
        "me": { "id": "1", "name": "A \"quoted\" \u{e9}\n name", "nick": null },
        "pets": [
            { "__typename": "Dog", "name": "Rex", "owner": { "id": "1", "name": null } },
            { "__typename": "Cat", "name": "Tom", "owner": { "id": "2", "name": "Bob" } } ],
    });
    let query = "{ pets { name owner { id name } } me { name nick } }";
    let (shaped, errors) = shape(query, json!({}), data);
    assert_eq!(
        shaped,
        json!({
            "pets": [
                { "name": "Rex", "owner": null },
                { "name": "Tom", "owner": { "id": "2", "name": "Bob" } } ],
            "me": { "name": "A \"quoted\" \u{e9}\n name", "nick": null },
        })
    );
    assert_eq!(errors, ["\"NULL_IN_NON_NULL_FIELD\""]);
}
