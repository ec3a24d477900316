//! Projection straight to bytes: the same shaping as [`Projection`]'s
//! tree (selected fields under their aliases, `__typename`, fragments by
//! type, `@skip`/`@include`, values outside the public schema withheld,
//! null propagation), written as JSON into a buffer instead of building a
//! `serde_json::Value` tree that is serialised afterwards. That saves a
//! map insertion, a key copy and a value copy per field: the response of
//! a list operation is most of a request's allocations.
//!
//! Null propagation rewinds the buffer: a value whose non-null child is
//! null is truncated back to where it started and written as `null`. An
//! object whose selections can give one response key twice (fragments
//! and type conditions selecting the same key, merged per the spec's
//! CollectFields) is projected through the tree and then written.
//! Errors are recorded exactly as the tree projection records them.

use hive_router_query_planner::ast::selection_item::SelectionItem;
use hive_router_query_planner::ast::selection_set::{FieldSelection, SelectionSet};
use hive_router_query_planner::state::supergraph_state::TypeNode;
use serde_json::{Map, Value};

use super::{NullPropagates, Projection};
use crate::graphql::json_map;
use crate::json_write;

/// One step of the path being written (borrowed: turned into JSON values
/// only when an error or an authorization rule needs the path).
#[derive(Clone, Copy)]
enum Step<'k> {
    Key(&'k str),
    Index(usize),
}

type Path<'k> = Vec<Step<'k>>;

fn path_values(path: &[Step<'_>]) -> Vec<Value> {
    path.iter()
        .map(|step| match step {
            Step::Key(key) => Value::from(*key),
            Step::Index(index) => Value::from(*index),
        })
        .collect()
}

/// Whether `value` was written as `null`.
type WroteNull = bool;

impl Projection<'_> {
    /// Writes the `data` of the response (the root object, or null).
    pub(crate) fn write_root(
        &mut self,
        data: &Value,
        root_type: &str,
        selections: &SelectionSet,
        out: &mut Vec<u8>,
    ) {
        let empty = Map::new();
        let object = data.as_object().unwrap_or(&empty);
        let start = out.len();
        if self
            .write_object(object, root_type, selections, &mut Vec::new(), out)
            .is_err()
        {
            write_null(out, start);
        }
    }

    fn write_object<'k>(
        &mut self,
        object: &Map<String, Value>,
        type_name: &str,
        selections: &'k SelectionSet,
        path: &mut Path<'k>,
        out: &mut Vec<u8>,
    ) -> Result<(), NullPropagates> {
        if may_repeat_a_key(selections) {
            let mut values = path_values(path);
            let map = self.object(object, type_name, selections, &mut values)?;
            json_write::object(out, &map);
            return Ok(());
        }
        let concrete = json_map::typename(object).unwrap_or(type_name);
        if self.types.is_hidden_object(concrete) {
            self.not_public(
                &path_values(path),
                "its type is not part of the public schema",
            );
            return Err(NullPropagates);
        }
        out.push(b'{');
        let mut first = true;
        self.write_selections(object, concrete, selections, path, out, &mut first)?;
        out.push(b'}');
        Ok(())
    }

    fn write_selections<'k>(
        &mut self,
        object: &Map<String, Value>,
        concrete: &str,
        selections: &'k SelectionSet,
        path: &mut Path<'k>,
        out: &mut Vec<u8>,
        first: &mut bool,
    ) -> Result<(), NullPropagates> {
        for item in &selections.items {
            match item {
                SelectionItem::Field(field)
                    if !field.omit_from_response
                        && self.included(field.skip_if.as_deref(), field.include_if.as_deref()) =>
                {
                    if !std::mem::take(first) {
                        out.push(b',');
                    }
                    self.write_field(object, concrete, field, path, out)?;
                }
                SelectionItem::InlineFragment(fragment)
                    if self
                        .included(fragment.skip_if.as_deref(), fragment.include_if.as_deref())
                        && self.type_matches(concrete, &fragment.type_condition)
                        && (self.withheld.is_empty()
                            || !self.withheld_fragment(
                                &fragment.type_condition,
                                &path_values(path),
                            )) =>
                {
                    self.write_selections(
                        object,
                        concrete,
                        &fragment.selections,
                        path,
                        out,
                        first,
                    )?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn write_field<'k>(
        &mut self,
        object: &Map<String, Value>,
        concrete: &str,
        field: &'k FieldSelection,
        path: &mut Path<'k>,
        out: &mut Vec<u8>,
    ) -> Result<(), NullPropagates> {
        let key = field.selection_identifier();
        json_write::string(out, key);
        out.push(b':');
        if field.name == "__typename" {
            json_write::string(out, concrete);
            return Ok(());
        }
        let field_type = self.field_type(concrete, &field.name);
        if !self.withheld.is_empty() && self.withheld_field(concrete, key, &path_values(path)) {
            // Removed by authorization: its error is already recorded.
            if field_type.is_non_null() {
                return Err(NullPropagates);
            }
            out.extend_from_slice(b"null");
            return Ok(());
        }
        let raw = json_map::get(object, key).unwrap_or(&Value::Null);
        path.push(Step::Key(key));
        let written = self.write_value(raw, field_type, &field.selections, path, out);
        path.pop();
        written.map(|_| ())
    }

    fn write_value<'k>(
        &mut self,
        raw: &Value,
        ty: &TypeNode,
        selections: &'k SelectionSet,
        path: &mut Path<'k>,
        out: &mut Vec<u8>,
    ) -> Result<WroteNull, NullPropagates> {
        let start = out.len();
        match ty {
            TypeNode::NonNull(inner) => {
                if self.write_value(raw, inner, selections, path, out)? {
                    self.null_error(&path_values(path));
                    return Err(NullPropagates);
                }
                Ok(false)
            }
            TypeNode::List(inner) => {
                let Value::Array(items) = raw else {
                    return Ok(write_null(out, start));
                };
                out.push(b'[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    path.push(Step::Index(index));
                    let written = self.write_value(item, inner, selections, path, out);
                    path.pop();
                    if written.is_err() {
                        return Ok(write_null(out, start));
                    }
                }
                out.push(b']');
                Ok(false)
            }
            TypeNode::Named(name) => match raw {
                Value::Object(object) if !selections.items.is_empty() => {
                    match self.write_object(object, name, selections, path, out) {
                        Ok(()) => Ok(false),
                        Err(NullPropagates) => Ok(write_null(out, start)),
                    }
                }
                Value::Object(_) | Value::Array(_)
                    if selections.items.is_empty() && !self.is_scalar(name) =>
                {
                    Ok(write_null(out, start))
                }
                Value::String(value) if self.types.has_enum_value(name, value) == Some(false) => {
                    self.not_public(&path_values(path), &format!("not a value of enum {name}"));
                    Ok(write_null(out, start))
                }
                other => {
                    json_write::value(out, other);
                    Ok(other.is_null())
                }
            },
        }
    }
}

/// Rewinds `out` to `start` and writes `null` there.
fn write_null(out: &mut Vec<u8>, start: usize) -> WroteNull {
    out.truncate(start);
    out.extend_from_slice(b"null");
    true
}

/// Whether two selections of `selections` (inline fragments included,
/// whatever their conditions) share a response key: such an object goes
/// through the tree projection, which merges them. Without allocation for
/// a flat selection set of up to 32 fields (pairs compared); otherwise the
/// keys are sorted.
fn may_repeat_a_key(selections: &SelectionSet) -> bool {
    let items = &selections.items;
    let flat = items
        .iter()
        .all(|item| matches!(item, SelectionItem::Field(_)));
    if flat && items.len() <= 32 {
        return items.iter().enumerate().any(|(index, item)| {
            let key = field_key(item);
            items[index + 1..]
                .iter()
                .any(|other| field_key(other) == key)
        });
    }
    let mut keys = Vec::new();
    collect_keys(selections, &mut keys);
    keys.sort_unstable();
    keys.windows(2).any(|pair| pair[0] == pair[1])
}

fn field_key(item: &SelectionItem) -> Option<&str> {
    match item {
        SelectionItem::Field(field) => Some(field.selection_identifier()),
        _ => None,
    }
}

fn collect_keys<'s>(selections: &'s SelectionSet, keys: &mut Vec<&'s str>) {
    for item in &selections.items {
        match item {
            SelectionItem::Field(field) => keys.push(field.selection_identifier()),
            SelectionItem::InlineFragment(fragment) => collect_keys(&fragment.selections, keys),
            SelectionItem::FragmentSpread(_) => {}
        }
    }
}
