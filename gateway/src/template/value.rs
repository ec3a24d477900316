//! JSON-shaped templates: a call's body and the client's response.
//!
//! A template is written as ordinary YAML. A string that is exactly one
//! `{expr}` becomes the value it names, keeping its JSON type; a string
//! with text around its holes becomes a string; anything else is copied.
//! A mapping with a `$from` key is a [`View`]: a value reshaped by
//! `$join`, `$allow`, `$deny` and `$rename` (see `shape.rs`). A key that
//! starts with `$$` stands for a literal key starting with `$`.

use serde_json::{Map, Value};

use super::eval::{Bindings, EvalError};
use super::shape::View;
use super::{Expr, Scope, StringTemplate};

/// A compiled JSON template.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueTemplate {
    Literal(Value),
    /// `"{order.total}"`: the value itself, with its JSON type.
    Expr(Expr),
    /// `"Order {order.id}"`: always a string.
    Text(StringTemplate),
    Object(Vec<(String, ValueTemplate)>),
    Array(Vec<ValueTemplate>),
    View(Box<View>),
}

/// A mistake in a template, located by its key path inside the template
/// (`["items", "$join", "with"]`), so the config loader can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub at: Vec<String>,
    pub message: String,
}

impl TemplateError {
    pub fn new(at: &[String], message: impl Into<String>) -> Self {
        Self {
            at: at.to_vec(),
            message: message.into(),
        }
    }
}

/// What to do with a missing value while rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// A missing value is an error (call inputs).
    Required,
    /// A missing value is `null` (the client's response).
    Lenient,
}

impl ValueTemplate {
    /// Compiles a parsed YAML/JSON value. Collects every error.
    pub fn compile(value: &Value, at: &mut Vec<String>, errors: &mut Vec<TemplateError>) -> Self {
        match value {
            Value::String(text) => compile_string(text, at, errors),
            Value::Array(items) => Self::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| {
                        with_key(at, index.to_string(), |at| Self::compile(item, at, errors))
                    })
                    .collect(),
            ),
            Value::Object(map) if map.contains_key("$from") => {
                Self::View(Box::new(View::compile(map, at, errors)))
            }
            Value::Object(map) => Self::Object(compile_fields(map, at, errors)),
            scalar => Self::Literal(scalar.clone()),
        }
    }

    /// Resolves every expression's root against `scope`, collecting errors.
    pub fn resolve(
        &mut self,
        scope: &dyn Scope,
        at: &mut Vec<String>,
        errors: &mut Vec<TemplateError>,
    ) {
        match self {
            Self::Literal(_) => {}
            Self::Expr(expr) => resolve_expr(expr, scope, at, errors),
            Self::Text(text) => text
                .exprs_mut()
                .for_each(|expr| resolve_expr(expr, scope, at, errors)),
            Self::Object(fields) => {
                for (key, field) in fields {
                    with_key(at, key.clone(), |at| field.resolve(scope, at, errors));
                }
            }
            Self::Array(items) => {
                for (index, item) in items.iter_mut().enumerate() {
                    with_key(at, index.to_string(), |at| item.resolve(scope, at, errors));
                }
            }
            Self::View(view) => view.resolve(scope, at, errors),
        }
    }

    /// Every expression in the template.
    pub fn exprs(&self) -> Vec<&Expr> {
        let mut out = Vec::new();
        self.collect_exprs(&mut out);
        out
    }

    fn collect_exprs<'a>(&'a self, out: &mut Vec<&'a Expr>) {
        match self {
            Self::Literal(_) => {}
            Self::Expr(expr) => out.push(expr),
            Self::Text(text) => out.extend(text.exprs()),
            Self::Object(fields) => fields
                .iter()
                .for_each(|(_, field)| field.collect_exprs(out)),
            Self::Array(items) => items.iter().for_each(|item| item.collect_exprs(out)),
            Self::View(view) => out.extend(view.exprs()),
        }
    }

    /// Renders the template.
    pub fn render(
        &self,
        bindings: &Bindings<'_>,
        strictness: Strictness,
    ) -> Result<Value, EvalError> {
        Ok(match self {
            Self::Literal(value) => value.clone(),
            Self::Expr(expr) => match strictness {
                Strictness::Required => bindings.required_value(expr)?,
                Strictness::Lenient => bindings.value(expr).unwrap_or(Value::Null),
            },
            Self::Text(text) => render_text(text, bindings, strictness)?,
            Self::Object(fields) => {
                let mut map = Map::with_capacity(fields.len());
                for (key, field) in fields {
                    map.insert(key.clone(), field.render(bindings, strictness)?);
                }
                Value::Object(map)
            }
            Self::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| item.render(bindings, strictness))
                    .collect::<Result<_, _>>()?,
            ),
            Self::View(view) => view.render(bindings),
        })
    }
}

fn render_text(
    text: &StringTemplate,
    bindings: &Bindings<'_>,
    strictness: Strictness,
) -> Result<Value, EvalError> {
    match bindings.render(text, super::eval::Target::Text) {
        Ok(rendered) => Ok(Value::String(rendered)),
        Err(_) if strictness == Strictness::Lenient => Ok(Value::Null),
        Err(error) => Err(error),
    }
}

fn compile_string(text: &str, at: &[String], errors: &mut Vec<TemplateError>) -> ValueTemplate {
    match StringTemplate::parse(text) {
        Ok(template) if template.is_literal() => {
            ValueTemplate::Literal(Value::String(template.literal_text()))
        }
        Ok(template) => match template.as_single_expr() {
            Some(expr) => ValueTemplate::Expr(expr.clone()),
            None => ValueTemplate::Text(template),
        },
        Err(error) => {
            errors.push(TemplateError::new(at, error.to_string()));
            ValueTemplate::Literal(Value::Null)
        }
    }
}

fn compile_fields(
    map: &Map<String, Value>,
    at: &mut Vec<String>,
    errors: &mut Vec<TemplateError>,
) -> Vec<(String, ValueTemplate)> {
    let mut fields = Vec::with_capacity(map.len());
    for (key, value) in map {
        let name = match key.strip_prefix('$') {
            Some(escaped) if escaped.starts_with('$') => escaped.to_owned(),
            Some(_) => {
                let message = format!(
                    "`{key}` is only allowed next to `$from` (write `$${}` for a literal key)",
                    &key[1..]
                );
                errors.push(TemplateError::new(at, message));
                continue;
            }
            None => key.clone(),
        };
        let field = with_key(at, key.clone(), |at| {
            ValueTemplate::compile(value, at, errors)
        });
        fields.push((name, field));
    }
    fields
}

pub(super) fn resolve_expr(
    expr: &mut Expr,
    scope: &dyn Scope,
    at: &[String],
    errors: &mut Vec<TemplateError>,
) {
    if let Err(message) = expr.resolve(scope) {
        errors.push(TemplateError::new(at, message));
    }
}

/// Runs `f` with `key` pushed onto the location path.
pub(super) fn with_key<T>(
    at: &mut Vec<String>,
    key: String,
    f: impl FnOnce(&mut Vec<String>) -> T,
) -> T {
    at.push(key);
    let result = f(at);
    at.pop();
    result
}
