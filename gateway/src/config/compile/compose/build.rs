//! Building a [`ComposeSpec`] from checked-but-unparsed input.
//!
//! The config loader hands over plain values (names, durations, template
//! strings, JSON trees) in a [`ComposeInput`]; this module parses every
//! template, resolves every reference, derives the call graph from the
//! references and rejects cycles. It knows no YAML: each [`PlanError`]
//! carries a [`Location`] that the loader maps back to a line and column.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, Method};
use serde_json::Value;

use crate::config::model::compose::{
    CallCacheSettings, CallGraph, ComposeCall, ComposeSpec, ResponseCacheSettings,
};
use crate::config::model::{BackendSpec, HeaderRule};
use crate::protos::bindings::JsonOptions;
use crate::template::value::{TemplateError, ValueTemplate};
use crate::template::{Expr, Scope, StringTemplate};

/// `compose:` as the loader read it.
#[derive(Debug, Clone)]
pub struct ComposeInput {
    pub calls: Vec<CallInput>,
    /// The response template; `None`: every call's value under its name.
    pub response: Option<Value>,
    /// The call whose 404 is the client's 404; the first call if `None`.
    pub primary: Option<String>,
    pub sequential: bool,
    pub deadline: Duration,
    pub cache: Option<ResponseCacheSettings>,
}

/// One entry of `compose.calls`.
#[derive(Debug, Clone)]
pub struct CallInput {
    pub name: String,
    pub backend: Arc<BackendSpec>,
    pub kind: CallKindInput,
    pub optional: bool,
    /// The backend's request timeout if `None`.
    pub timeout: Option<Duration>,
    pub headers: Vec<(HeaderName, String)>,
    /// Defaults to on for safe calls (GET, HEAD, GraphQL queries).
    pub coalesce: Option<bool>,
    pub cache: Option<CallCacheSettings>,
    /// Header propagation rules, after the global `propagate.all`.
    pub propagate: Vec<HeaderRule>,
    /// `retry:` on the call.
    pub retry: Option<Arc<crate::config::model::RetryPolicy>>,
}

#[derive(Debug, Clone)]
pub enum CallKindInput {
    Rest {
        method: Method,
        path: String,
        body: Option<Value>,
    },
    GraphQl {
        path: String,
        query: String,
        variables: Option<Value>,
        data: Option<String>,
    },
    /// A unary method, already checked to exist and to be unary.
    Grpc {
        /// `package.Service/Method`.
        method: String,
        /// `/package.Service/Method`.
        path: String,
        body: Option<Value>,
        json: JsonOptions,
    },
}

/// Which part of the input an error is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `calls.<name>` itself (cycles, bad names).
    Call(usize),
    /// A field of a call; `at` is the key path inside a JSON template.
    CallField {
        call: usize,
        field: CallField,
        at: Vec<String>,
    },
    /// The key path inside `response`.
    Response(Vec<String>),
    Primary,
    /// The `compose` mapping as a whole.
    Compose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallField {
    Path,
    Body,
    /// The n-th entry of `headers`.
    Header(usize),
    Variables,
    Data,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    pub location: Location,
    pub message: String,
}

/// Call names and path parameters, for resolving expressions.
struct Names<'a> {
    calls: Vec<&'a str>,
    params: &'a [String],
}

impl Scope for Names<'_> {
    fn call_index(&self, name: &str) -> Option<usize> {
        self.calls.iter().position(|call| *call == name)
    }

    fn has_param(&self, name: &str) -> bool {
        self.params.iter().any(|param| param == name)
    }
}

/// Compiles `input` for a route capturing `params`. Collects every error.
pub fn build(input: ComposeInput, params: &[String]) -> Result<ComposeSpec, Vec<PlanError>> {
    let mut errors = Vec::new();
    if input.calls.is_empty() {
        errors.push(PlanError {
            location: Location::Compose,
            message: "compose needs at least one call under `calls`".into(),
        });
    }
    let names = Names {
        calls: input.calls.iter().map(|call| call.name.as_str()).collect(),
        params,
    };
    check_names(&input.calls, params, &mut errors);
    let compiled: Vec<(ComposeCall, BTreeSet<usize>)> = input
        .calls
        .iter()
        .enumerate()
        .map(|(index, call)| call::compile_call(index, call, &names, &mut errors))
        .collect();
    let response = compile_response(input.response.as_ref(), &names, &mut errors);
    let primary = primary_index(input.primary.as_deref(), &names, &mut errors);
    let (calls, dependencies): (Vec<_>, Vec<_>) = compiled.into_iter().unzip();
    let graph = call_graph(dependencies, &names, &mut errors);
    match graph {
        Some(graph) if errors.is_empty() => Ok(ComposeSpec {
            calls,
            graph,
            response,
            primary,
            sequential: input.sequential,
            deadline: input.deadline,
            response_cache: input.cache,
        }),
        _ => Err(errors),
    }
}

/// The call graph, or `None` with the cycle recorded.
fn call_graph(
    dependencies: Vec<BTreeSet<usize>>,
    names: &Names<'_>,
    errors: &mut Vec<PlanError>,
) -> Option<CallGraph> {
    CallGraph::build(dependencies)
        .map_err(|cycle| {
            let path: Vec<&str> = cycle.0.iter().map(|&i| names.calls[i]).collect();
            let message = format!("calls form a cycle: {}", path.join(" -> "));
            errors.push(PlanError {
                location: Location::Call(cycle.0[0]),
                message,
            });
        })
        .ok()
}

fn check_names(calls: &[CallInput], params: &[String], errors: &mut Vec<PlanError>) {
    for (index, call) in calls.iter().enumerate() {
        let valid = !call.name.is_empty()
            && call
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let message = if !valid {
            format!(
                "call name \"{}\" must use only letters, digits, `_` and `-`",
                call.name
            )
        } else if call.name == "_meta" {
            "the call name `_meta` is reserved for the response's error list".to_owned()
        } else if params.contains(&call.name) {
            format!(
                "call \"{}\" has the name of a path parameter; rename the call",
                call.name
            )
        } else {
            continue;
        };
        errors.push(PlanError {
            location: Location::Call(index),
            message,
        });
    }
}

/// A string template with every expression resolved; its expressions are
/// added to `exprs`.
fn string_template(
    text: &str,
    names: &Names<'_>,
    exprs: &mut Vec<Expr>,
) -> Result<StringTemplate, String> {
    let mut template = StringTemplate::parse(text).map_err(|error| error.to_string())?;
    for expr in template.exprs_mut() {
        expr.resolve(names)?;
    }
    exprs.extend(template.exprs().cloned());
    Ok(template)
}

fn path_template(
    text: &str,
    names: &Names<'_>,
    exprs: &mut Vec<Expr>,
) -> Result<StringTemplate, String> {
    if !text.starts_with('/') {
        return Err(format!("path \"{text}\" must start with `/`"));
    }
    string_template(text, names, exprs)
}

fn json_template(
    value: &Value,
    names: &Names<'_>,
    exprs: &mut Vec<Expr>,
    mut report: impl FnMut(Vec<String>, String),
) -> ValueTemplate {
    let mut errors: Vec<TemplateError> = Vec::new();
    let mut template = ValueTemplate::compile(value, &mut Vec::new(), &mut errors);
    template.resolve(names, &mut Vec::new(), &mut errors);
    exprs.extend(template.exprs().into_iter().cloned());
    errors
        .into_iter()
        .for_each(|error| report(error.at, error.message));
    template
}

/// The response template, or by default every call's value under its name.
fn compile_response(
    response: Option<&Value>,
    names: &Names<'_>,
    errors: &mut Vec<PlanError>,
) -> ValueTemplate {
    let Some(response) = response else {
        let fields = names.calls.iter().enumerate().map(|(index, name)| {
            let expr = Expr {
                root: crate::template::Root::Call {
                    index,
                    name: name.to_string(),
                },
                path: vec![],
                filter: None,
            };
            (name.to_string(), ValueTemplate::Expr(expr))
        });
        return ValueTemplate::Object(fields.collect());
    };
    json_template(response, names, &mut Vec::new(), |at, message| {
        errors.push(PlanError {
            location: Location::Response(at),
            message,
        });
    })
}

fn primary_index(primary: Option<&str>, names: &Names<'_>, errors: &mut Vec<PlanError>) -> usize {
    let Some(name) = primary else { return 0 };
    names.call_index(name).unwrap_or_else(|| {
        let message = format!(
            "primary names \"{name}\", which is not a call; calls: {}",
            names.calls.join(", ")
        );
        errors.push(PlanError {
            location: Location::Primary,
            message,
        });
        0
    })
}

mod call;
#[cfg(test)]
mod tests;
