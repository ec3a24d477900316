//! Views: reshaping a call's JSON for the client.
//!
//! ```yaml
//! items:
//!   $from: "{order.items}"
//!   $join: { with: "{products.items}", on: product_id, key: id, as: product }
//!   $allow: [product_id, quantity, product]
//!   $deny: [internal_note]
//!   $rename: { product_id: productId }
//! ```
//!
//! Steps run in that order: join, allow, deny, rename. Each applies to the
//! source object, or to every object of a source array. A missing source
//! gives `null`; a join item with no match gets `null` under `as`.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::eval::{Bindings, borrow_path};
use super::value::{TemplateError, resolve_expr, with_key};
use super::{Expr, Scope, Segment};

/// Every key a view may have.
const VIEW_KEYS: &[&str] = &["$from", "$join", "$allow", "$deny", "$rename"];

/// A reshaped value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct View {
    pub from: Option<Expr>,
    pub join: Option<Join>,
    pub allow: Option<Vec<String>>,
    pub deny: Vec<String>,
    pub rename: Vec<(String, String)>,
}

/// Attach to each item the element of `with` whose `key` equals the
/// item's `on`.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    pub with: Expr,
    /// A dotted path in the item (`product_id`, `ref.id`).
    pub on: Vec<Segment>,
    /// A dotted path in each element of `with`; `id` by default.
    pub key: Vec<Segment>,
    /// The field the match is stored under.
    pub as_field: String,
}

impl View {
    /// Compiles a mapping that has a `$from` key.
    pub fn compile(
        map: &Map<String, Value>,
        at: &mut Vec<String>,
        errors: &mut Vec<TemplateError>,
    ) -> Self {
        let mut view = View::default();
        for (key, value) in map {
            with_key(at, key.clone(), |at| {
                view.compile_key(key, value, at, errors)
            });
        }
        view
    }

    fn compile_key(
        &mut self,
        key: &str,
        value: &Value,
        at: &[String],
        errors: &mut Vec<TemplateError>,
    ) {
        let mut fail = |message: String| errors.push(TemplateError::new(at, message));
        match key {
            "$from" => match single_expr(value) {
                Ok(expr) => self.from = Some(expr),
                Err(message) => fail(message),
            },
            "$join" => match Join::compile(value) {
                Ok(join) => self.join = Some(join),
                Err(message) => fail(message),
            },
            "$allow" => match string_list(value) {
                Ok(list) => self.allow = Some(list),
                Err(message) => fail(message),
            },
            "$deny" => match string_list(value) {
                Ok(list) => self.deny = list,
                Err(message) => fail(message),
            },
            "$rename" => match rename_pairs(value) {
                Ok(pairs) => self.rename = pairs,
                Err(message) => fail(message),
            },
            other => fail(format!(
                "unknown key `{other}` in a view; a view (a mapping with `$from`) takes only {}; nest plain fields in their own mapping",
                VIEW_KEYS.join(", ")
            )),
        }
    }

    pub fn resolve(
        &mut self,
        scope: &dyn Scope,
        at: &mut Vec<String>,
        errors: &mut Vec<TemplateError>,
    ) {
        if let Some(from) = &mut self.from {
            with_key(at, "$from".to_owned(), |at| {
                resolve_expr(from, scope, at, errors)
            });
        }
        if let Some(join) = &mut self.join {
            with_key(at, "$join".to_owned(), |at| {
                resolve_expr(&mut join.with, scope, at, errors)
            });
        }
    }

    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.from
            .iter()
            .chain(self.join.as_ref().map(|join| &join.with))
    }

    /// Renders the view; anything missing is `null`.
    pub fn render(&self, bindings: &Bindings<'_>) -> Value {
        let Some(mut value) = self.from.as_ref().and_then(|from| bindings.value(from)) else {
            return Value::Null;
        };
        let joined = self
            .join
            .as_ref()
            .and_then(|join| Some((join, bindings.value(&join.with)?)));
        let index = joined
            .as_ref()
            .map(|(join, with)| (join, JoinIndex::build(join, with)));
        let reshape = |object: &mut Map<String, Value>| {
            if let Some((join, index)) = &index {
                let matched = map_path(object, &join.on).and_then(|key| index.get(key));
                object.insert(
                    join.as_field.clone(),
                    matched.cloned().unwrap_or(Value::Null),
                );
            }
            self.filter_fields(object);
        };
        match &mut value {
            Value::Object(object) => reshape(object),
            Value::Array(items) => items
                .iter_mut()
                .filter_map(Value::as_object_mut)
                .for_each(reshape),
            _ => {}
        }
        value
    }

    fn filter_fields(&self, object: &mut Map<String, Value>) {
        if let Some(allow) = &self.allow {
            let mut kept = Map::with_capacity(allow.len());
            for name in allow {
                if let Some(value) = object.remove(name) {
                    kept.insert(name.clone(), value);
                }
            }
            *object = kept;
        }
        for name in &self.deny {
            object.remove(name);
        }
        for (from, to) in &self.rename {
            if let Some(value) = object.remove(from) {
                object.insert(to.clone(), value);
            }
        }
    }
}

/// The `with` elements of a join by their key's text.
struct JoinIndex<'a>(HashMap<String, &'a Value>);

impl<'a> JoinIndex<'a> {
    fn build(join: &Join, with: &'a Value) -> Self {
        let elements = match with {
            Value::Array(items) => items.as_slice(),
            _ => std::slice::from_ref(with),
        };
        let map = elements
            .iter()
            .filter_map(|element| Some((key_text(borrow_path(element, &join.key)?), element)))
            .collect();
        Self(map)
    }

    fn get(&self, key: &Value) -> Option<&'a Value> {
        self.0.get(&key_text(key)).copied()
    }
}

/// [`borrow_path`] starting from an object's fields.
fn map_path<'v>(object: &'v Map<String, Value>, path: &[Segment]) -> Option<&'v Value> {
    match path.split_first()? {
        (Segment::Field(name), rest) => borrow_path(object.get(name)?, rest),
        _ => None,
    }
}

/// Keys compare by their JSON text, so `"7"` and `7` do not match.
fn key_text(value: &Value) -> String {
    value.to_string()
}

impl Join {
    fn compile(value: &Value) -> Result<Self, String> {
        let map = value
            .as_object()
            .ok_or("`$join` takes a mapping: { with, on, key, as }")?;
        if let Some(unknown) = map
            .keys()
            .find(|key| !["with", "on", "key", "as"].contains(&key.as_str()))
        {
            return Err(format!(
                "unknown key `{unknown}` in `$join`; expected with, on, key (default id), as"
            ));
        }
        let field = |name: &str| map.get(name).and_then(Value::as_str);
        let with = single_expr(
            map.get("with")
                .ok_or("`$join` needs `with`: the array to join, such as \"{products.items}\"")?,
        )?;
        let on = field("on")
            .ok_or("`$join` needs `on`: the field of each item to match, such as product_id")?;
        let as_field =
            field("as").ok_or("`$join` needs `as`: the field that receives the match")?;
        Ok(Self {
            with,
            on: dotted(on)?,
            key: dotted(field("key").unwrap_or("id"))?,
            as_field: as_field.to_owned(),
        })
    }
}

fn dotted(path: &str) -> Result<Vec<Segment>, String> {
    path.split('.')
        .map(|name| match name.is_empty() {
            true => Err(format!(
                "`{path}` is not a field path (write names separated by dots)"
            )),
            false => Ok(Segment::Field(name.to_owned())),
        })
        .collect()
}

fn single_expr(value: &Value) -> Result<Expr, String> {
    let text = value
        .as_str()
        .ok_or("expected a string holding one expression, such as \"{order.items}\"")?;
    let template = super::StringTemplate::parse(text).map_err(|error| error.to_string())?;
    template.as_single_expr().cloned().ok_or_else(|| {
        format!("\"{text}\" must be exactly one expression, such as \"{{order.items}}\"")
    })
}

fn string_list(value: &Value) -> Result<Vec<String>, String> {
    let items = value.as_array().ok_or("expected a list of field names")?;
    items
        .iter()
        .map(|item| {
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| "expected a list of field names".to_owned())
        })
        .collect()
}

fn rename_pairs(value: &Value) -> Result<Vec<(String, String)>, String> {
    let map = value
        .as_object()
        .ok_or("`$rename` takes a mapping of old name to new name")?;
    map.iter()
        .map(|(from, to)| {
            to.as_str()
                .map(|to| (from.clone(), to.to_owned()))
                .ok_or_else(|| format!("`$rename.{from}` must be a field name"))
        })
        .collect()
}

#[cfg(test)]
mod tests;
