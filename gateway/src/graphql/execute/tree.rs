//! Operations on the merged response tree: finding the entities a Flatten
//! path points at, building their representations from a `requires`
//! selection, applying the planner's input/output rewrites, and deep
//! merging subgraph results into place.

use hive_router_query_planner::ast::selection_item::SelectionItem;
use hive_router_query_planner::ast::selection_set::SelectionSet;
use hive_router_query_planner::planner::plan_nodes::{
    FetchNodePathSegment, FetchRewrite, FlattenNodePathSegment,
};
use serde_json::{Map, Value};

/// One step from the root to a value in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// Where an entity sits in the tree.
pub(crate) type Position = Vec<Step>;

/// The path as it appears in a GraphQL error.
pub(crate) fn error_path(position: &[Step]) -> Vec<Value> {
    position
        .iter()
        .map(|step| match step {
            Step::Key(key) => Value::from(key.as_str()),
            Step::Index(index) => Value::from(*index),
        })
        .collect()
}

/// Every object the Flatten `path` reaches, with its position.
pub(crate) fn collect_positions(root: &Value, path: &[FlattenNodePathSegment]) -> Vec<Position> {
    let mut found = Vec::new();
    walk(root, path, &mut Vec::new(), &mut found);
    found
}

fn walk(
    value: &Value,
    path: &[FlattenNodePathSegment],
    at: &mut Position,
    found: &mut Vec<Position>,
) {
    let Some((segment, rest)) = path.split_first() else {
        match value {
            Value::Object(_) => found.push(at.clone()),
            // A list at the end of the path: its elements are the entities.
            Value::Array(items) => walk_items(items, path, at, found),
            _ => {}
        }
        return;
    };
    match (segment, value) {
        (_, Value::Array(items)) => walk_items(items, path, at, found),
        (FlattenNodePathSegment::Field(key), Value::Object(object)) => {
            if let Some(child) = object.get(key) {
                at.push(Step::Key(key.clone()));
                walk(child, rest, at, found);
                at.pop();
            }
        }
        (FlattenNodePathSegment::List, _) => {}
        (FlattenNodePathSegment::TypeCondition(types), Value::Object(object)) => {
            let typename = object.get("__typename").and_then(Value::as_str);
            if typename.is_some_and(|t| types.contains(t)) {
                walk(value, rest, at, found);
            }
        }
        _ => {}
    }
}

fn walk_items(
    items: &[Value],
    path: &[FlattenNodePathSegment],
    at: &mut Position,
    found: &mut Vec<Position>,
) {
    let rest = match path.first() {
        Some(FlattenNodePathSegment::List) => &path[1..],
        _ => path,
    };
    for (index, item) in items.iter().enumerate() {
        at.push(Step::Index(index));
        walk(item, rest, at, found);
        at.pop();
    }
}

/// The value at `position`, if it is still there.
pub(crate) fn get_mut<'v>(root: &'v mut Value, position: &[Step]) -> Option<&'v mut Value> {
    position
        .iter()
        .try_fold(root, |value, step| match (step, value) {
            (Step::Key(key), Value::Object(object)) => object.get_mut(key),
            (Step::Index(index), Value::Array(items)) => items.get_mut(*index),
            _ => None,
        })
}

pub(crate) fn get<'v>(root: &'v Value, position: &[Step]) -> Option<&'v Value> {
    position
        .iter()
        .try_fold(root, |value, step| match (step, value) {
            (Step::Key(key), Value::Object(object)) => object.get(key),
            (Step::Index(index), Value::Array(items)) => items.get(*index),
            _ => None,
        })
}

/// Deep-merges `source` into `target`: objects field by field, lists of
/// the same length element by element; a null never erases data.
pub(crate) fn deep_merge(target: &mut Value, source: Value) {
    match (target, source) {
        (_, Value::Null) => {}
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                match into.get_mut(&key) {
                    Some(existing) => deep_merge(existing, value),
                    None => {
                        into.insert(key, value);
                    }
                }
            }
        }
        (Value::Array(into), Value::Array(from)) if into.len() == from.len() => {
            for (existing, value) in into.iter_mut().zip(from) {
                deep_merge(existing, value);
            }
        }
        (target, source) => *target = source,
    }
}

/// The representation of `entity` for a `requires` selection: the key
/// and required fields under their field names. `None` when no type
/// condition of the selection matches the entity.
pub(crate) fn representation(entity: &Value, requires: &SelectionSet) -> Option<Value> {
    let object = entity.as_object()?;
    let typename = object.get("__typename").and_then(Value::as_str);
    let mut out = Map::new();
    let mut matched = false;
    for item in &requires.items {
        match item {
            SelectionItem::InlineFragment(fragment) => {
                if typename == Some(fragment.type_condition.as_str()) {
                    matched = true;
                    project_into(object, &fragment.selections, &mut out);
                }
            }
            SelectionItem::Field(_) => {
                matched = true;
                project_into(
                    object,
                    &SelectionSet {
                        items: vec![item.clone()],
                    },
                    &mut out,
                );
            }
            SelectionItem::FragmentSpread(_) => {}
        }
    }
    matched.then_some(Value::Object(out))
}

fn project_into(
    object: &Map<String, Value>,
    selections: &SelectionSet,
    out: &mut Map<String, Value>,
) {
    let typename = object.get("__typename").and_then(Value::as_str);
    for item in &selections.items {
        match item {
            SelectionItem::Field(field) => {
                let value = object
                    .get(field.selection_identifier())
                    .or_else(|| object.get(&field.name));
                let Some(value) = value else { continue };
                let projected = if field.selections.is_empty() {
                    value.clone()
                } else {
                    project_value(value, &field.selections)
                };
                match out.get_mut(&field.name) {
                    Some(existing) => deep_merge(existing, projected),
                    None => {
                        out.insert(field.name.clone(), projected);
                    }
                }
            }
            SelectionItem::InlineFragment(fragment) => {
                if typename.is_none_or(|t| t == fragment.type_condition) {
                    project_into(object, &fragment.selections, out);
                }
            }
            SelectionItem::FragmentSpread(_) => {}
        }
    }
}

fn project_value(value: &Value, selections: &SelectionSet) -> Value {
    match value {
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| project_value(i, selections)).collect())
        }
        Value::Object(object) => {
            let mut out = Map::new();
            project_into(object, selections, &mut out);
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Applies the planner's value setters and key renamers.
pub(crate) fn apply_rewrites(value: &mut Value, rewrites: &[FetchRewrite]) {
    for rewrite in rewrites {
        match rewrite {
            FetchRewrite::ValueSetter(setter) => {
                rewrite_at(value, &setter.path, &mut |parent, key| {
                    parent.insert(key.to_owned(), Value::from(setter.set_value_to.as_str()));
                });
            }
            FetchRewrite::KeyRenamer(renamer) => {
                rewrite_at(value, &renamer.path, &mut |parent, key| {
                    if let Some(moved) = parent.remove(key) {
                        parent.insert(renamer.rename_key_to.clone(), moved);
                    }
                });
            }
        }
    }
}

fn rewrite_at(
    value: &mut Value,
    path: &[FetchNodePathSegment],
    apply: &mut dyn FnMut(&mut Map<String, Value>, &str),
) {
    match value {
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| rewrite_at(item, path, apply)),
        Value::Object(object) => match path {
            [FetchNodePathSegment::Key(key)] => apply(object, key),
            [FetchNodePathSegment::Key(key), rest @ ..] => {
                if let Some(child) = object.get_mut(key) {
                    rewrite_at(child, rest, apply);
                }
            }
            [FetchNodePathSegment::TypenameEquals(types), rest @ ..] => {
                let typename = object.get("__typename").and_then(Value::as_str);
                if typename.is_some_and(|t| types.contains(t)) {
                    rewrite_at(value, rest, apply);
                }
            }
            [] => {}
        },
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn positions_follow_lists_and_type_conditions() {
        let data = json!({"search": [{"__typename": "Product", "id": "1"}, {"__typename": "Order", "id": "2"}]});
        let path: Vec<FlattenNodePathSegment> = serde_json::from_value(json!([
            {"Field": "search"}, "@", {"TypeCondition": ["Order"]}
        ]))
        .unwrap();
        let positions = collect_positions(&data, &path);
        assert_eq!(
            positions,
            vec![vec![Step::Key("search".into()), Step::Index(1)]]
        );
    }

    #[test]
    fn merge_keeps_data_and_fills_lists() {
        let mut target = json!({"a": [{"x": 1}, {"x": 2}], "b": 1});
        deep_merge(&mut target, json!({"a": [{"y": 1}, {"y": 2}], "b": null}));
        assert_eq!(
            target,
            json!({"a": [{"x": 1, "y": 1}, {"x": 2, "y": 2}], "b": 1})
        );
    }
}
