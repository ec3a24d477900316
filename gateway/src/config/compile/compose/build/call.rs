//! Compiling one call: its kind's templates, its headers, and the calls its
//! templates read (its dependencies).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

use super::{
    CallField, CallInput, CallKindInput, Location, Names, PlanError, json_template, path_template,
    string_template,
};
use crate::config::model::compose::{
    ComposeCall, ComposeCallKind as CallKind, GraphQlCall, GrpcCallSpec, RestCall,
};
use crate::template::value::ValueTemplate;
use crate::template::{Expr, Segment, StringTemplate};

/// Collects one call's expressions and errors while its parts compile.
struct CallCompiler<'a> {
    index: usize,
    names: &'a Names<'a>,
    exprs: Vec<Expr>,
    errors: &'a mut Vec<PlanError>,
}

/// The call's spec and the indices of the calls it reads.
pub(super) fn compile_call(
    index: usize,
    input: &CallInput,
    names: &Names<'_>,
    errors: &mut Vec<PlanError>,
) -> (ComposeCall, BTreeSet<usize>) {
    let mut compiler = CallCompiler {
        index,
        names,
        exprs: Vec::new(),
        errors,
    };
    let kind = compiler.kind(&input.kind);
    let headers = input
        .headers
        .iter()
        .enumerate()
        .filter_map(|(n, (name, text))| {
            Some((name.clone(), compiler.string(text, CallField::Header(n))?))
        })
        .collect();
    let dependencies = compiler.exprs.iter().filter_map(Expr::call).collect();
    let spec = ComposeCall {
        name: input.name.clone(),
        timeout: input.timeout.unwrap_or(input.backend.request_timeout),
        coalesce: input.coalesce.unwrap_or_else(|| kind.is_safe()),
        cache: input.cache.clone(),
        backend: Arc::clone(&input.backend),
        kind,
        optional: input.optional,
        headers,
        propagate: input.propagate.clone(),
        retry: input.retry.clone(),
    };
    (spec, dependencies)
}

impl CallCompiler<'_> {
    fn kind(&mut self, input: &CallKindInput) -> CallKind {
        match input {
            CallKindInput::Rest { method, path, body } => CallKind::Rest(RestCall {
                method: method.clone(),
                path: self.path(path),
                body: self.json(body.as_ref(), CallField::Body),
            }),
            CallKindInput::GraphQl {
                path,
                query,
                variables,
                data,
            } => CallKind::GraphQl(GraphQlCall {
                path: self.path(path),
                query: query.clone(),
                variables: self.json(variables.as_ref(), CallField::Variables),
                data_path: data.as_deref().map(dotted_path).unwrap_or_default(),
            }),
            CallKindInput::Grpc {
                method,
                path,
                body,
                json,
            } => CallKind::Grpc(GrpcCallSpec {
                method: method.clone(),
                path: path.clone(),
                message: self.json(body.as_ref(), CallField::Body),
                json: *json,
            }),
        }
    }

    fn error(&mut self, field: CallField, at: Vec<String>, message: String) {
        let location = Location::CallField {
            call: self.index,
            field,
            at,
        };
        self.errors.push(PlanError { location, message });
    }

    /// A path template; an empty one (after recording the error) if bad.
    fn path(&mut self, text: &str) -> StringTemplate {
        path_template(text, self.names, &mut self.exprs).unwrap_or_else(|message| {
            self.error(CallField::Path, Vec::new(), message);
            StringTemplate { parts: Vec::new() }
        })
    }

    fn string(&mut self, text: &str, field: CallField) -> Option<StringTemplate> {
        string_template(text, self.names, &mut self.exprs)
            .map_err(|message| self.error(field, Vec::new(), message))
            .ok()
    }

    fn json(&mut self, value: Option<&Value>, field: CallField) -> Option<ValueTemplate> {
        let mut found = Vec::new();
        let template = json_template(value?, self.names, &mut self.exprs, |at, message| {
            found.push((at, message))
        });
        for (at, message) in found {
            self.error(field, at, message);
        }
        Some(template)
    }
}

fn dotted_path(path: &str) -> Vec<Segment> {
    path.split('.')
        .filter(|name| !name.is_empty())
        .map(|name| Segment::Field(name.to_owned()))
        .collect()
}
