//! Entity representations: the object sent to a subgraph's `_entities`
//! for one entity of the tree, built from the fetch's `requires`
//! selection. Type conditions match by possible types, so an entity
//! typed `Admin` matches `... on Account` when `Admin` implements the
//! `Account` interface (the planner then rewrites `__typename` for a
//! subgraph that knows `Account` only as an `@interfaceObject`). A field
//! the planner fetched under an internal alias is read there and sent
//! under its field name.

use hive_router_query_planner::ast::selection_item::SelectionItem;
use hive_router_query_planner::ast::selection_set::{FieldSelection, SelectionSet};
use serde_json::map::Entry;
use serde_json::{Map, Value};

use super::tree::{PossibleTypes, deep_merge};
use crate::graphql::json_map;
use crate::json_write;

/// What an entity gives for a `requires` selection.
pub(crate) enum Representation<T = Value> {
    /// No type condition of the selection matches the entity.
    NotApplicable,
    /// A key field (or a non-null required field) is missing or null:
    /// the entity cannot be fetched. Names the field.
    Invalid(String),
    /// The key and required fields under their field names (a value, or
    /// written as JSON by [`write_representation`]).
    Valid(T),
}

/// [`write_representation`] met a response key twice in one object
/// (fragments selecting the same field): [`representation`] merges them.
pub(crate) struct KeyRepeats;

/// The representation of `entity` for a `requires` selection.
pub(crate) fn representation(
    entity: &Value,
    requires: &SelectionSet,
    types: PossibleTypes<'_>,
) -> Representation {
    let mut sink = ValueSink {
        projector: Projector { types },
        out: Map::new(),
    };
    match walk_requires(entity, requires, types, &mut sink) {
        Ok(Representation::Valid(())) => Representation::Valid(Value::Object(sink.out)),
        Ok(Representation::Invalid(field)) => Representation::Invalid(field),
        Ok(Representation::NotApplicable) => Representation::NotApplicable,
        Err(never) => match never {},
    }
}

/// Where [`walk_requires`] sends the top level's selections: into a value
/// ([`ValueSink`]) or as JSON text ([`ByteSink`]).
trait RequiresSink<'s> {
    type Error;
    fn selections(
        &mut self,
        object: &Map<String, Value>,
        selections: &'s SelectionSet,
    ) -> Result<(), Self::Error>;
    fn field(
        &mut self,
        object: &Map<String, Value>,
        field: &'s FieldSelection,
    ) -> Result<(), Self::Error>;
}

/// The top level of a `requires` selection over `entity`, shared by both
/// builders: each inline fragment whose type condition the entity matches
/// (after checking it has its key fields) and each field go to `sink`.
/// Not `Valid` when nothing matched or a key field is missing.
fn walk_requires<'s, S: RequiresSink<'s>>(
    entity: &Value,
    requires: &'s SelectionSet,
    types: PossibleTypes<'_>,
    sink: &mut S,
) -> Result<Representation<()>, S::Error> {
    let Some(object) = entity.as_object() else {
        return Ok(Representation::NotApplicable);
    };
    let typename = json_map::typename(object);
    let mut matched = false;
    for item in &requires.items {
        match item {
            SelectionItem::InlineFragment(fragment) => {
                let condition = &fragment.type_condition;
                if typename.is_some_and(|t| types.matches(t, condition)) {
                    matched = true;
                    if let Some(missing) =
                        missing_field(object, condition, &fragment.selections, types)
                    {
                        return Ok(Representation::Invalid(missing));
                    }
                    sink.selections(object, &fragment.selections)?;
                }
            }
            SelectionItem::Field(field) => {
                matched = true;
                sink.field(object, field)?;
            }
            SelectionItem::FragmentSpread(_) => {}
        }
    }
    Ok(if matched {
        Representation::Valid(())
    } else {
        Representation::NotApplicable
    })
}

struct ValueSink<'t> {
    projector: Projector<'t>,
    out: Map<String, Value>,
}

impl<'s> RequiresSink<'s> for ValueSink<'_> {
    type Error = std::convert::Infallible;

    fn selections(
        &mut self,
        object: &Map<String, Value>,
        selections: &'s SelectionSet,
    ) -> Result<(), Self::Error> {
        self.projector
            .selections_into(object, selections, &mut self.out);
        Ok(())
    }

    fn field(
        &mut self,
        object: &Map<String, Value>,
        field: &'s FieldSelection,
    ) -> Result<(), Self::Error> {
        self.projector.field_into(object, field, &mut self.out);
        Ok(())
    }
}

/// The first field of `selections` that must have a value and has none:
/// a field of one of the type's `@key`s, or a non-null field.
fn missing_field(
    object: &Map<String, Value>,
    type_name: &str,
    selections: &SelectionSet,
    types: PossibleTypes<'_>,
) -> Option<String> {
    selections.items.iter().find_map(|item| match item {
        SelectionItem::Field(field) if field.name != "__typename" => {
            // The schema is asked only about an absent field (the `@key`
            // lookup parses key field sets: not once per entity).
            let absent = json_map::get(object, &field.name).is_none_or(Value::is_null);
            let required = || {
                types.is_key_field(type_name, field.selection_identifier())
                    || types.is_non_null_field(type_name, field.selection_identifier())
            };
            (absent && required()).then(|| field.selection_identifier().to_owned())
        }
        _ => None,
    })
}

/// Writes the representation of `entity` for `requires` at the end of
/// `out`: the JSON text `serde_json` writes for [`representation`]'s
/// value, without building that value (a map, a key copy and a value
/// copy per field; the representations of a list operation were a tenth
/// of its CPU). On `Err`, or when not `Valid`, `out` holds a partial
/// write for the caller to truncate.
pub(crate) fn write_representation(
    entity: &Value,
    requires: &SelectionSet,
    types: PossibleTypes<'_>,
    out: &mut Vec<u8>,
) -> Result<Representation<()>, KeyRepeats> {
    out.push(b'{');
    let mut sink = ByteSink {
        writer: Writer {
            types,
            keys: Vec::new(),
        },
        out,
    };
    let outcome = walk_requires(entity, requires, types, &mut sink)?;
    sink.out.push(b'}');
    Ok(outcome)
}

/// The top level's selections written at the representation's level (0).
struct ByteSink<'o, 't, 's> {
    writer: Writer<'t, 's>,
    out: &'o mut Vec<u8>,
}

impl<'s> RequiresSink<'s> for ByteSink<'_, '_, 's> {
    type Error = KeyRepeats;

    fn selections(
        &mut self,
        object: &Map<String, Value>,
        selections: &'s SelectionSet,
    ) -> Result<(), KeyRepeats> {
        self.writer.selections(object, selections, 0, self.out)
    }

    fn field(
        &mut self,
        object: &Map<String, Value>,
        field: &'s FieldSelection,
    ) -> Result<(), KeyRepeats> {
        self.writer.field(object, field, 0, self.out)
    }
}

/// [`Projector`]'s selection, written as JSON.
struct Writer<'t, 's> {
    types: PossibleTypes<'t>,
    /// The keys written in each open object; an object's start at `level`.
    keys: Vec<&'s str>,
}

impl<'s> Writer<'_, 's> {
    fn selections(
        &mut self,
        object: &Map<String, Value>,
        selections: &'s SelectionSet,
        level: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), KeyRepeats> {
        let typename = json_map::typename(object);
        for item in &selections.items {
            match item {
                SelectionItem::Field(field) => self.field(object, field, level, out)?,
                SelectionItem::InlineFragment(fragment) => {
                    if typename.is_none_or(|t| self.types.matches(t, &fragment.type_condition)) {
                        self.selections(object, &fragment.selections, level, out)?;
                    }
                }
                SelectionItem::FragmentSpread(_) => {}
            }
        }
        Ok(())
    }

    fn field(
        &mut self,
        object: &Map<String, Value>,
        field: &'s FieldSelection,
        level: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), KeyRepeats> {
        // Read under the selection's name, sent under its field name (see
        // `Projector::field_into`).
        let Some(value) = json_map::get(object, &field.name) else {
            return Ok(());
        };
        let key = field.selection_identifier();
        if self.keys[level..].contains(&key) {
            return Err(KeyRepeats);
        }
        if self.keys.len() > level {
            out.push(b',');
        }
        self.keys.push(key);
        json_write::string(out, key);
        out.push(b':');
        if field.selections.is_empty() {
            json_write::value(out, value);
            Ok(())
        } else {
            self.value(value, &field.selections, out)
        }
    }

    fn value(
        &mut self,
        value: &Value,
        selections: &'s SelectionSet,
        out: &mut Vec<u8>,
    ) -> Result<(), KeyRepeats> {
        match value {
            Value::Array(items) => {
                out.push(b'[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    self.value(item, selections, out)?;
                }
                out.push(b']');
            }
            Value::Object(object) => {
                let level = self.keys.len();
                out.push(b'{');
                self.selections(object, selections, level, out)?;
                self.keys.truncate(level);
                out.push(b'}');
            }
            other => json_write::value(out, other),
        }
        Ok(())
    }
}

struct Projector<'t> {
    types: PossibleTypes<'t>,
}

impl Projector<'_> {
    fn selections_into(
        &self,
        object: &Map<String, Value>,
        selections: &SelectionSet,
        out: &mut Map<String, Value>,
    ) {
        let typename = json_map::typename(object);
        for item in &selections.items {
            match item {
                SelectionItem::Field(field) => self.field_into(object, field, out),
                SelectionItem::InlineFragment(fragment) => {
                    if typename.is_none_or(|t| self.types.matches(t, &fragment.type_condition)) {
                        self.selections_into(object, &fragment.selections, out);
                    }
                }
                SelectionItem::FragmentSpread(_) => {}
            }
        }
    }

    fn field_into(
        &self,
        object: &Map<String, Value>,
        field: &FieldSelection,
        out: &mut Map<String, Value>,
    ) {
        // `comments: _internal_qp_alias_0 { … }`: the planner fetched the
        // required field under an internal alias (the selection's name);
        // the subgraph expects it under its field name (the alias).
        let Some(value) = json_map::get(object, &field.name) else {
            return;
        };
        let projected = if field.selections.is_empty() {
            value.clone()
        } else {
            self.value(value, &field.selections)
        };
        // One lookup, whether the key is new or merged into.
        match out.entry(field.selection_identifier()) {
            Entry::Occupied(mut existing) => deep_merge(existing.get_mut(), projected),
            Entry::Vacant(slot) => {
                slot.insert(projected);
            }
        }
    }

    fn value(&self, value: &Value, selections: &SelectionSet) -> Value {
        match value {
            Value::Array(items) => {
                Value::Array(items.iter().map(|i| self.value(i, selections)).collect())
            }
            Value::Object(object) => {
                let mut out = Map::new();
                self.selections_into(object, selections, &mut out);
                Value::Object(out)
            }
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
