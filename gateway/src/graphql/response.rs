//! Shapes the merged data tree into the response the client asked for:
//! only the selected fields, under their aliases, `__typename` filled in,
//! fragments applied by type, `@skip`/`@include` honoured, and nulls
//! propagated exactly as the GraphQL specification's "Handling Field
//! Errors" says: a null in a non-null position nulls the nearest nullable
//! parent, with one error at the path where it happened. Values the
//! public schema does not have (an `@inaccessible` enum value, an object
//! of an `@inaccessible` type) are nulls with an error, never shown.

use hive_router_query_planner::ast::selection_item::SelectionItem;
use hive_router_query_planner::ast::selection_set::{FieldSelection, SelectionSet};
use hive_router_query_planner::state::supergraph_state::TypeNode;
use serde_json::{Map, Value};

use super::authorization::WithheldSelection;
use super::error::GraphqlError;
use super::execute::variable_is_true;
use super::json_map;
use super::response_types::ResponseTypes;

/// What projection reads.
pub(crate) struct Projection<'a> {
    /// The schema's types, and what of them is public.
    pub types: &'a ResponseTypes,
    pub variables: &'a Map<String, Value>,
    /// Selections removed by authorization: null (a field) or left out
    /// (a fragment), with their errors already in `errors`.
    pub withheld: &'a [WithheldSelection],
    pub errors: &'a mut Vec<GraphqlError>,
}

/// A null that must propagate to the parent.
struct NullPropagates;

impl<'a> Projection<'a> {
    /// The `data` of the response: the root object, or null.
    pub(crate) fn project_root(
        &mut self,
        data: &Value,
        root_type: &str,
        selections: &SelectionSet,
    ) -> Value {
        let empty = Map::new();
        let object = data.as_object().unwrap_or(&empty);
        match self.object(object, root_type, selections, &mut Vec::new()) {
            Ok(map) => Value::Object(map),
            Err(NullPropagates) => Value::Null,
        }
    }

    fn object(
        &mut self,
        object: &Map<String, Value>,
        type_name: &str,
        selections: &SelectionSet,
        path: &mut Vec<Value>,
    ) -> Result<Map<String, Value>, NullPropagates> {
        let concrete = json_map::typename(object).unwrap_or(type_name);
        if self.types.is_hidden_object(concrete) {
            self.not_public(path, "its type is not part of the public schema");
            return Err(NullPropagates);
        }
        let mut out = Map::with_capacity(selections.items.len());
        self.selections_into(object, concrete, selections, path, &mut out)?;
        Ok(out)
    }

    fn selections_into(
        &mut self,
        object: &Map<String, Value>,
        concrete: &str,
        selections: &SelectionSet,
        path: &mut Vec<Value>,
        out: &mut Map<String, Value>,
    ) -> Result<(), NullPropagates> {
        for item in &selections.items {
            match item {
                SelectionItem::Field(field)
                    if !field.omit_from_response
                        && self.included(field.skip_if.as_deref(), field.include_if.as_deref()) =>
                {
                    self.field(object, concrete, field, path, out)?;
                }
                SelectionItem::InlineFragment(fragment)
                    if self
                        .included(fragment.skip_if.as_deref(), fragment.include_if.as_deref())
                        && self.type_matches(concrete, &fragment.type_condition)
                        && !self.withheld_fragment(&fragment.type_condition, path) =>
                {
                    self.selections_into(object, concrete, &fragment.selections, path, out)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn field(
        &mut self,
        object: &Map<String, Value>,
        concrete: &str,
        field: &FieldSelection,
        path: &mut Vec<Value>,
        out: &mut Map<String, Value>,
    ) -> Result<(), NullPropagates> {
        let key = field.selection_identifier().to_owned();
        if field.name == "__typename" {
            out.insert(key, Value::from(concrete));
            return Ok(());
        }
        let field_type = self.field_type(concrete, &field.name);
        if self.withheld_field(concrete, &key, path) {
            // Removed by authorization: its error is already recorded.
            if field_type.is_non_null() {
                return Err(NullPropagates);
            }
            out.entry(key).or_insert(Value::Null);
            return Ok(());
        }
        let raw = json_map::get(object, &key).unwrap_or(&Value::Null);
        path.push(Value::from(key.as_str()));
        let completed = self.complete(raw, field_type, &field.selections, path);
        path.pop();
        let completed = completed?;
        // The same response key across fragments and type conditions is
        // one field (the spec's CollectFields): merge, don't overwrite.
        match out.get_mut(&key) {
            Some(existing) => merge_same_key(existing, completed),
            None => {
                out.insert(key, completed);
            }
        }
        Ok(())
    }

    fn complete(
        &mut self,
        raw: &Value,
        ty: &TypeNode,
        selections: &SelectionSet,
        path: &mut Vec<Value>,
    ) -> Result<Value, NullPropagates> {
        match ty {
            TypeNode::NonNull(inner) => {
                let value = self.complete(raw, inner, selections, path)?;
                if value.is_null() {
                    self.null_error(path);
                    return Err(NullPropagates);
                }
                Ok(value)
            }
            TypeNode::List(inner) => match raw {
                Value::Array(items) => {
                    let mut out = Vec::with_capacity(items.len());
                    for (index, item) in items.iter().enumerate() {
                        path.push(Value::from(index));
                        let completed = self.complete(item, inner, selections, path);
                        path.pop();
                        match completed {
                            Ok(value) => out.push(value),
                            Err(NullPropagates) => return Ok(Value::Null),
                        }
                    }
                    Ok(Value::Array(out))
                }
                _ => Ok(Value::Null),
            },
            TypeNode::Named(name) => match raw {
                Value::Object(object) if !selections.items.is_empty() => Ok(self
                    .object(object, name, selections, path)
                    .map_or(Value::Null, Value::Object)),
                Value::Object(_) | Value::Array(_)
                    if selections.items.is_empty() && !self.is_scalar(name) =>
                {
                    Ok(Value::Null)
                }
                Value::String(value) if self.types.has_enum_value(name, value) == Some(false) => {
                    self.not_public(path, &format!("not a value of enum {name}"));
                    Ok(Value::Null)
                }
                other => Ok(other.clone()),
            },
        }
    }

    /// Records that the value at `path` is withheld (it is not in the
    /// public schema), without naming what it was.
    fn not_public(&mut self, path: &[Value], why: &str) {
        let display = display_path(path);
        self.errors.push(
            GraphqlError::new(
                "RESPONSE_VALIDATION_FAILED",
                format!("Invalid value at {display}: {why}"),
            )
            .at(path.to_vec()),
        );
    }

    /// Whether authorization removed the field `key` of an object of type
    /// `concrete` at `path`.
    fn withheld_field(&self, concrete: &str, key: &str, path: &[Value]) -> bool {
        !self.withheld.is_empty()
            && self.withheld.iter().any(|w| {
                w.field.as_deref() == Some(key)
                    && same_keys(&w.keys, path)
                    && self.type_matches(concrete, &w.on_type)
            })
    }

    /// Whether authorization removed the fragment on `condition` at `path`.
    fn withheld_fragment(&self, condition: &str, path: &[Value]) -> bool {
        !self.withheld.is_empty()
            && self
                .withheld
                .iter()
                .any(|w| w.field.is_none() && w.on_type == condition && same_keys(&w.keys, path))
    }

    /// Records "cannot be null" unless an error already explains a null
    /// at or below this path (an `"@"` in an error's path stands for any
    /// list index, as in authorization errors).
    fn null_error(&mut self, path: &[Value]) {
        let explained = self.errors.iter().any(|e| match &e.path {
            Some(p) => is_prefix(p, path) || is_prefix(path, p),
            None => true,
        });
        if !explained {
            let display = display_path(path);
            self.errors.push(
                GraphqlError::new(
                    "NULL_IN_NON_NULL_FIELD",
                    format!("Cannot return null for non-nullable field at {display}"),
                )
                .at(path.to_vec()),
            );
        }
    }

    fn included(&self, skip_if: Option<&str>, include_if: Option<&str>) -> bool {
        let skipped = skip_if.is_some_and(|v| variable_is_true(self.variables, v));
        let included = include_if.is_none_or(|v| variable_is_true(self.variables, v));
        !skipped && included
    }

    /// The declared type of `type_name.field_name` (borrowed: no
    /// allocation per field); an unknown field is a nameless scalar.
    fn field_type(&self, type_name: &str, field_name: &str) -> &'a TypeNode {
        self.types.field_type(type_name, field_name)
    }

    fn is_scalar(&self, name: &str) -> bool {
        self.types.is_scalar(name)
    }

    /// Whether an object of type `concrete` matches a fragment on `condition`.
    fn type_matches(&self, concrete: &str, condition: &str) -> bool {
        self.types.type_matches(concrete, condition)
    }
}

/// Whether `keys` are the response keys of `path` (its indices aside).
fn same_keys(keys: &[String], path: &[Value]) -> bool {
    let mut names = path.iter().filter_map(Value::as_str);
    keys.iter().all(|key| names.next() == Some(key.as_str())) && names.next().is_none()
}

/// Whether `prefix` starts `path`, `"@"` matching any index.
fn is_prefix(prefix: &[Value], path: &[Value]) -> bool {
    prefix.len() <= path.len()
        && prefix.iter().zip(path).all(|(a, b)| {
            a == b
                || (a.as_str() == Some("@") && b.is_number())
                || (b.as_str() == Some("@") && a.is_number())
        })
}

/// `a.0.b` for the path `["a", 0, "b"]`.
fn display_path(path: &[Value]) -> String {
    path.iter()
        .map(|s| s.to_string().trim_matches('"').to_owned())
        .collect::<Vec<_>>()
        .join(".")
}

/// Merges two completions of one response key: objects field by field,
/// lists element by element; a null (propagated) stays null.
fn merge_same_key(existing: &mut Value, completed: Value) {
    match (existing, completed) {
        (Value::Null, _) => {}
        (existing, Value::Null) => *existing = Value::Null,
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                match into.get_mut(&key) {
                    Some(slot) => merge_same_key(slot, value),
                    None => {
                        into.insert(key, value);
                    }
                }
            }
        }
        (Value::Array(into), Value::Array(from)) if into.len() == from.len() => {
            for (slot, value) in into.iter_mut().zip(from) {
                merge_same_key(slot, value);
            }
        }
        (existing, completed) => *existing = completed,
    }
}

#[cfg(test)]
mod tests;
mod writer;
