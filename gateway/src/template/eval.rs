//! Evaluating resolved expressions against one request's values: the path
//! parameters and the JSON results of the calls finished so far.
//!
//! Two uses, two rules for a missing value. Inputs of a call (its path,
//! query, headers, body) must be complete: a missing field is an error and
//! the call is not made. The client's response is lenient: a missing field,
//! or the field of a failed optional call, is `null`.

use std::sync::Arc;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::{Expr, Filter, Part, Root, Segment, StringTemplate};
use crate::router::Params;

/// Everything an expression can read during one composition.
#[derive(Debug, Clone, Copy)]
pub struct Bindings<'a> {
    pub params: &'a Params,
    /// By call index; `None` for calls not finished (or failed).
    pub results: &'a [Option<Arc<Value>>],
}

/// Where a rendered string goes, which decides how values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A path or query: values are percent-encoded; path parameters are
    /// used raw, exactly as the client sent them (already encoded).
    Url,
    /// A header or a JSON string: values are used as they are.
    Text,
}

/// Why an expression could not give a value for a call's input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("`{{{expr}}}` has no value: {reason}")]
    Missing { expr: String, reason: String },
    #[error("`{{{expr}}}` is {kind}, which cannot be put into a string (use `|join` for arrays)")]
    NotScalar { expr: String, kind: &'static str },
}

/// Characters kept as they are in URL values: RFC 3986 "unreserved".
const URL_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl Bindings<'_> {
    /// The value of `expr`, `None` when any step is missing. Filters are
    /// applied (`|join` turns an array into a string).
    pub fn value(&self, expr: &Expr) -> Option<Value> {
        let base = match &expr.root {
            Root::Param(name) => Value::String(self.params.decoded(name)?),
            Root::Call { index, .. } => self.results.get(*index)?.as_deref()?.clone(),
            Root::Name(_) => return None,
        };
        let value = walk(&base, &expr.path)?;
        Some(match &expr.filter {
            Some(Filter::Join(separator)) => Value::String(join(&value, separator, Target::Text)?),
            None => value,
        })
    }

    /// Like [`Bindings::value`], but a missing value is an error naming it.
    pub fn required_value(&self, expr: &Expr) -> Result<Value, EvalError> {
        self.value(expr).ok_or_else(|| self.missing(expr))
    }

    /// Renders a string template for a call's input.
    pub fn render(&self, template: &StringTemplate, target: Target) -> Result<String, EvalError> {
        let mut out = String::new();
        for part in &template.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Expr(expr) => out.push_str(&self.render_expr(expr, target)?),
            }
        }
        Ok(out)
    }

    fn render_expr(&self, expr: &Expr, target: Target) -> Result<String, EvalError> {
        if let (Root::Param(name), Target::Url) = (&expr.root, target) {
            return self
                .params
                .get(name)
                .map(str::to_owned)
                .ok_or_else(|| self.missing(expr));
        }
        let raw = self.value_before_filter(expr)?;
        match &expr.filter {
            Some(Filter::Join(separator)) => {
                join(&raw, separator, target).ok_or_else(|| not_scalar(expr, &raw))
            }
            None => scalar_text(&raw, target).ok_or_else(|| not_scalar(expr, &raw)),
        }
    }

    fn value_before_filter(&self, expr: &Expr) -> Result<Value, EvalError> {
        let unfiltered = Expr {
            filter: None,
            ..expr.clone()
        };
        self.required_value(&unfiltered)
            .map_err(|_| self.missing(expr))
    }

    fn missing(&self, expr: &Expr) -> EvalError {
        let reason = match &expr.root {
            Root::Call { index, .. } if self.results.get(*index).is_none_or(Option::is_none) => {
                "the call it reads has no result"
            }
            Root::Param(_) => "the route captured no such parameter",
            _ => "a field on its path is absent or null",
        };
        EvalError::Missing {
            expr: expr.to_string(),
            reason: reason.to_owned(),
        }
    }
}

/// Follows `path` into `value`. `[*]` maps the rest of the path over an
/// array. A missing field, an index out of range, or a `null` gives `None`.
pub fn walk(value: &Value, path: &[Segment]) -> Option<Value> {
    let Some((first, rest)) = path.split_first() else {
        return (!value.is_null()).then(|| value.clone());
    };
    match first {
        Segment::Field(name) => walk(value.as_object()?.get(name)?, rest),
        Segment::Index(index) => walk(value.as_array()?.get(*index)?, rest),
        Segment::Each => {
            let items = value.as_array()?;
            items
                .iter()
                .map(|item| walk(item, rest))
                .collect::<Option<Vec<_>>>()
                .map(Value::Array)
        }
    }
}

/// Follows a path of fields and indices without copying; `None` for a
/// missing step, a `null`, or a `[*]` (which would build a new array).
pub fn borrow_path<'v>(value: &'v Value, path: &[Segment]) -> Option<&'v Value> {
    let Some((first, rest)) = path.split_first() else {
        return (!value.is_null()).then_some(value);
    };
    match first {
        Segment::Field(name) => borrow_path(value.as_object()?.get(name)?, rest),
        Segment::Index(index) => borrow_path(value.as_array()?.get(*index)?, rest),
        Segment::Each => None,
    }
}

/// A scalar as text: strings unquoted, numbers and booleans as JSON writes
/// them. Objects, arrays and null have no text form.
fn scalar_text(value: &Value, target: Target) -> Option<String> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Null | Value::Array(_) | Value::Object(_) => return None,
    };
    Some(match target {
        Target::Url => utf8_percent_encode(&text, URL_VALUE).to_string(),
        Target::Text => text,
    })
}

/// An array of scalars joined by `separator` (each element escaped for
/// `target`, the separator left as written). A lone scalar is itself.
fn join(value: &Value, separator: &str, target: Target) -> Option<String> {
    match value {
        Value::Array(items) => {
            let texts = items
                .iter()
                .map(|item| scalar_text(item, target))
                .collect::<Option<Vec<_>>>()?;
            Some(texts.join(separator))
        }
        scalar => scalar_text(scalar, target),
    }
}

fn not_scalar(expr: &Expr, value: &Value) -> EvalError {
    let kind = match value {
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
        _ => "null",
    };
    EvalError::NotScalar {
        expr: expr.to_string(),
        kind,
    }
}

#[cfg(test)]
mod tests;
