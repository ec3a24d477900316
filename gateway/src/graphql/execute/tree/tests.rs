//! The tree operations on a small supergraph: positions through lists and
//! type conditions, rewrites on interfaces, key field sets, merges.

use super::*;
use crate::graphql::response_types::ResponseTypes;
use hive_router_query_planner::planner::plan_nodes::ValueSetter;
use serde_json::json;

fn positions<'p>(
    root: &Value,
    path: &'p [FlattenNodePathSegment],
    types: PossibleTypes<'_>,
) -> Vec<Position<'p>> {
    collect_entities(root, path, types)
        .into_iter()
        .map(|(position, _)| position)
        .collect()
}

fn state() -> (SupergraphState, ResponseTypes) {
    let sdl = "type Query { search: [Node] }
        interface Node { id: ID! }
        type Order implements Node { id: ID! }
        type Product implements Node { id: ID! }
        type Refund { id: ID! }";
    crate::graphql::supergraph_compose::one_subgraph_types(sdl)
}

#[test]
fn positions_follow_lists_and_type_conditions() {
    let (state, index) = state();
    let data = json!({"search": [
        {"__typename": "Product", "id": "1"},
        {"__typename": "Order", "id": "2"},
        {"__typename": "Refund", "id": "3"},
    ]});
    let path = |condition: &str| -> Vec<FlattenNodePathSegment> {
        serde_json::from_value(json!([
            {"Field": "search"}, "@", {"TypeCondition": [condition]}
        ]))
        .unwrap()
    };
    let at = |index| vec![Step::Key("search"), Step::Index(index)];
    let types = PossibleTypes {
        state: &state,
        index: &index,
    };
    assert_eq!(positions(&data, &path("Order"), types), vec![at(1)]);
    // An interface condition matches every implementation.
    assert_eq!(positions(&data, &path("Node"), types), vec![at(0), at(1)]);
}

#[test]
fn typename_setters_apply_to_implementations_of_the_interface() {
    let (state, index) = state();
    let rewrites = [FetchRewrite::ValueSetter(ValueSetter {
        path: vec![
            FetchNodePathSegment::typename_equals_from_type("Node".into()),
            FetchNodePathSegment::Key("__typename".into()),
        ],
        set_value_to: "Node".into(),
    })];
    let mut representations =
        json!([{"__typename": "Order", "id": "2"}, {"__typename": "Refund", "id": "3"}]);
    apply_rewrites(
        &mut representations,
        &rewrites,
        PossibleTypes {
            state: &state,
            index: &index,
        },
    );
    assert_eq!(
        representations,
        json!([{"__typename": "Node", "id": "2"}, {"__typename": "Refund", "id": "3"}])
    );
}

#[test]
fn key_field_sets_give_their_top_level_fields() {
    let fields: Vec<&str> = top_level_fields("id owner{ id org {id}} sku").collect();
    assert_eq!(fields, ["id", "owner", "sku"]);
}

#[test]
fn merge_keeps_data_and_fills_lists() {
    let mut target = json!({"a": [{"x": 1}, {"x": 2}], "b": 1});
    let source = json!({"a": [{"y": 1}, {"y": 2}], "b": null});
    let mut borrowed = target.clone();
    deep_merge(&mut target, source.clone());
    let merged = json!({"a": [{"x": 1, "y": 1}, {"x": 2, "y": 2}], "b": 1});
    assert_eq!(target, merged);
    deep_merge_borrowed(&mut borrowed, &source, None);
    assert_eq!(borrowed, merged);
}

#[test]
fn a_borrowed_merge_leaves_out_the_skipped_key_at_the_top_only() {
    let mut target = json!({"__typename": "Admin", "id": "1"});
    let source = json!({"__typename": "Account", "team": {"__typename": "Team"}});
    deep_merge_borrowed(&mut target, &source, Some("__typename"));
    assert_eq!(
        target,
        json!({"__typename": "Admin", "id": "1", "team": {"__typename": "Team"}})
    );
}

#[test]
fn an_empty_root_takes_the_first_answer_whole() {
    let mut root = json!({});
    merge_into(&mut root, json!({"a": 1}));
    merge_into(&mut root, json!({"b": 2}));
    assert_eq!(root, json!({"a": 1, "b": 2}));
}
