//! Operations on the merged response tree: finding the entities a Flatten
//! path points at, applying the planner's input/output rewrites, and deep
//! merging subgraph results into place. Type conditions match by possible
//! types ([`PossibleTypes`]), not only by the exact type name.

use hive_router_query_planner::planner::plan_nodes::{
    FetchNodePathSegment, FetchRewrite, FlattenNodePathSegment,
};
use hive_router_query_planner::state::supergraph_state::SupergraphState;
use serde_json::{Map, Value};

use crate::graphql::json_map;
use crate::graphql::response_types::ResponseTypes;

/// Type conditions as the planner means them: an object matches a
/// condition naming its own type, an interface it implements, or a union
/// it belongs to. An object typed by an interface name (what a subgraph
/// knowing it as an `@interfaceObject` returns) matches that interface.
/// Asked of the foldhash index shaping uses ([`ResponseTypes`]); only
/// `@key` field sets are read from the planner's state.
#[derive(Clone, Copy)]
pub(crate) struct PossibleTypes<'a> {
    pub state: &'a SupergraphState,
    pub index: &'a ResponseTypes,
}

impl PossibleTypes<'_> {
    pub(crate) fn matches(self, typename: &str, condition: &str) -> bool {
        self.index.type_matches(typename, condition)
    }

    pub(crate) fn matches_any<'c>(
        self,
        typename: &str,
        conditions: impl IntoIterator<Item = &'c String>,
    ) -> bool {
        conditions.into_iter().any(|c| self.matches(typename, c))
    }

    /// Whether `field` belongs to one of `type_name`'s `@key`s (in any
    /// subgraph), at the top level of the key.
    pub(crate) fn is_key_field(self, type_name: &str, field: &str) -> bool {
        self.state.definitions.get(type_name).is_some_and(|def| {
            def.join_types()
                .iter()
                .filter_map(|join| join.key.as_deref())
                .any(|key| top_level_fields(key).any(|name| name == field))
        })
    }

    /// Whether `type_name.field` is declared non-null.
    pub(crate) fn is_non_null_field(self, type_name: &str, field: &str) -> bool {
        self.index.field_type(type_name, field).is_non_null()
    }

    /// Whether `name` is an interface of the supergraph.
    pub(crate) fn is_interface(self, name: &str) -> bool {
        self.index.is_interface(name)
    }
}

/// The field names at the top level of a `@key` field set
/// (`"id owner { id }"` gives `id` and `owner`).
fn top_level_fields(key: &str) -> impl Iterator<Item = &str> {
    let mut depth = 0usize;
    key.split(|c: char| c.is_whitespace() || c == ',')
        .flat_map(|word| split_braces(word))
        .filter(move |token| match *token {
            "{" => {
                depth += 1;
                false
            }
            "}" => {
                depth = depth.saturating_sub(1);
                false
            }
            "" => false,
            _ => depth == 0,
        })
}

/// `"owner{id}"` → `owner`, `{`, `id`, `}`.
fn split_braces(word: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, c) in word.char_indices() {
        if c == '{' || c == '}' {
            parts.push(&word[start..i]);
            parts.push(&word[i..i + 1]);
            start = i + 1;
        }
    }
    parts.push(&word[start..]);
    parts
}

/// One step from the root to a value in the tree (a key borrowed from
/// the plan's Flatten path: no allocation per step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step<'p> {
    Key(&'p str),
    Index(usize),
}

/// Where an entity sits in the tree.
pub(crate) type Position<'p> = Vec<Step<'p>>;

/// The path as it appears in a GraphQL error.
pub(crate) fn error_path(position: &[Step<'_>]) -> Vec<Value> {
    position
        .iter()
        .map(|step| match step {
            Step::Key(key) => Value::from(*key),
            Step::Index(index) => Value::from(*index),
        })
        .collect()
}

/// Every object the Flatten `path` reaches, with its position (found in
/// one walk: no second lookup from the root per entity).
pub(crate) fn collect_entities<'p, 'v>(
    root: &'v Value,
    path: &'p [FlattenNodePathSegment],
    types: PossibleTypes<'_>,
) -> Vec<(Position<'p>, &'v Value)> {
    let mut walker = Walker {
        types,
        found: Vec::new(),
    };
    walker.walk(root, path, &mut Vec::new());
    walker.found
}

struct Walker<'t, 'p, 'v> {
    types: PossibleTypes<'t>,
    found: Vec<(Position<'p>, &'v Value)>,
}

impl<'p, 'v> Walker<'_, 'p, 'v> {
    fn walk(
        &mut self,
        value: &'v Value,
        path: &'p [FlattenNodePathSegment],
        at: &mut Position<'p>,
    ) {
        let Some((segment, rest)) = path.split_first() else {
            match value {
                Value::Object(_) => self.found.push((at.clone(), value)),
                // A list at the end of the path: its elements are the entities.
                Value::Array(items) => self.walk_items(items, path, at),
                _ => {}
            }
            return;
        };
        match (segment, value) {
            (_, Value::Array(items)) => self.walk_items(items, path, at),
            (FlattenNodePathSegment::Field(key), Value::Object(object)) => {
                if let Some(child) = json_map::get(object, key) {
                    at.push(Step::Key(key));
                    self.walk(child, rest, at);
                    at.pop();
                }
            }
            (FlattenNodePathSegment::List, _) => {}
            (FlattenNodePathSegment::TypeCondition(conditions), Value::Object(object)) => {
                let typename = json_map::typename(object);
                if typename.is_some_and(|t| self.types.matches_any(t, conditions)) {
                    self.walk(value, rest, at);
                }
            }
            _ => {}
        }
    }

    fn walk_items(
        &mut self,
        items: &'v [Value],
        path: &'p [FlattenNodePathSegment],
        at: &mut Position<'p>,
    ) {
        let rest = match path.first() {
            Some(FlattenNodePathSegment::List) => &path[1..],
            _ => path,
        };
        for (index, item) in items.iter().enumerate() {
            at.push(Step::Index(index));
            self.walk(item, rest, at);
            at.pop();
        }
    }
}

/// The value at `position`, if it is still there.
pub(crate) fn get_mut<'v>(root: &'v mut Value, position: &[Step<'_>]) -> Option<&'v mut Value> {
    position
        .iter()
        .try_fold(root, |value, step| match (step, value) {
            (Step::Key(key), Value::Object(object)) => json_map::get_mut(object, key),
            (Step::Index(index), Value::Array(items)) => items.get_mut(*index),
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
                match json_map::get_mut(into, &key) {
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

/// [`deep_merge`] from a borrowed source (a subgraph answer shared with
/// other requests): only what `target` lacks is copied. `skip` names a
/// top-level key of `source` to leave out.
pub(crate) fn deep_merge_borrowed(target: &mut Value, source: &Value, skip: Option<&str>) {
    match (target, source) {
        (_, Value::Null) => {}
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                if skip == Some(key.as_str()) {
                    continue;
                }
                match json_map::get_mut(into, key) {
                    Some(existing) => deep_merge_borrowed(existing, value, None),
                    None => {
                        into.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(into), Value::Array(from)) if into.len() == from.len() => {
            for (existing, value) in into.iter_mut().zip(from) {
                deep_merge_borrowed(existing, value, None);
            }
        }
        (target, source) => *target = source.clone(),
    }
}

/// [`deep_merge`], except that an empty target object (the first root
/// fetch) simply takes `source` (no key-by-key re-insertion).
pub(crate) fn merge_into(target: &mut Value, source: Value) {
    match target {
        Value::Object(object) if object.is_empty() && source.is_object() => *target = source,
        _ => deep_merge(target, source),
    }
}

/// Applies the planner's value setters and key renamers.
pub(crate) fn apply_rewrites(
    value: &mut Value,
    rewrites: &[FetchRewrite],
    types: PossibleTypes<'_>,
) {
    for rewrite in rewrites {
        match rewrite {
            FetchRewrite::ValueSetter(setter) => {
                rewrite_at(value, &setter.path, types, &mut |parent, key| {
                    parent.insert(key.to_owned(), Value::from(setter.set_value_to.as_str()));
                });
            }
            FetchRewrite::KeyRenamer(renamer) => {
                rewrite_at(value, &renamer.path, types, &mut |parent, key| {
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
    types: PossibleTypes<'_>,
    apply: &mut dyn FnMut(&mut Map<String, Value>, &str),
) {
    match value {
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| rewrite_at(item, path, types, apply)),
        Value::Object(object) => match path {
            [FetchNodePathSegment::Key(key)] => apply(object, key),
            [FetchNodePathSegment::Key(key), rest @ ..] => {
                if let Some(child) = json_map::get_mut(object, key) {
                    rewrite_at(child, rest, types, apply);
                }
            }
            [FetchNodePathSegment::TypenameEquals(conditions), rest @ ..] => {
                let typename = json_map::typename(object);
                if typename.is_some_and(|t| types.matches_any(t, conditions)) {
                    rewrite_at(value, rest, types, apply);
                }
            }
            [] => {}
        },
        _ => {}
    }
}

#[cfg(test)]
mod tests;
