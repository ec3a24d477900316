//! Which kind of call a `compose.calls` entry is: REST (`path`), GraphQL
//! (`graphql`) or unary gRPC through the bridge (`grpc`). Exactly one.

use http::Method;
use serde_json::Value;

use super::super::super::errors::Diagnostics;
use super::super::super::raw::{RawCall, Text};
use super::super::routes::RouteContext;
use super::build::CallKindInput;
use crate::protos::bindings::JsonOptions;
use crate::protos::descriptors::{find_method, grpc_path, method_name};
use prost_reflect::MethodDescriptor;

/// The call's kind; `None` (errors recorded) if it cannot be told.
pub(super) fn call_kind(
    context: &RouteContext<'_>,
    raw: &RawCall,
    label: &str,
    body: Option<Value>,
    variables: Option<Value>,
    diag: &mut Diagnostics,
) -> Option<CallKindInput> {
    let keys: Vec<&Text> = [&raw.path, &raw.graphql, &raw.grpc]
        .into_iter()
        .flatten()
        .collect();
    match (&raw.grpc, &raw.graphql, &raw.path) {
        (Some(method), None, None) => grpc(context, raw, method, label, body, diag),
        (None, Some(query), _) => graphql(raw, query, label, variables, diag),
        (None, None, Some(path)) => rest(raw, path, label, body, diag),
        (Some(method), _, _) => {
            let message = format!(
                "{label}: a gRPC call takes no `path` or `graphql` (its path is the method's)"
            );
            diag.error(method.span(), message);
            None
        }
        (None, None, None) => {
            let message = format!(
                "{label}: set `path` (REST), `graphql` (a GraphQL query) or `grpc` (a unary gRPC method)"
            );
            diag.error(
                keys.first().map_or(raw.backend.span(), |key| key.span()),
                message,
            );
            None
        }
    }
}

fn rest(
    raw: &RawCall,
    path: &Text,
    label: &str,
    body: Option<Value>,
    diag: &mut Diagnostics,
) -> Option<CallKindInput> {
    if let Some(data) = &raw.data {
        diag.error(
            data.span(),
            format!("{label}: `data` is only for GraphQL calls"),
        );
    }
    if let Some(variables) = &raw.variables {
        diag.error(
            variables.span(),
            format!("{label}: a REST call takes no `variables` (they are for GraphQL calls; send a `body`)"),
        );
    }
    let method = method(raw.method.as_ref(), label, diag)?;
    Some(CallKindInput::Rest {
        method,
        path: path.to_string(),
        body,
    })
}

fn graphql(
    raw: &RawCall,
    query: &Text,
    label: &str,
    variables: Option<Value>,
    diag: &mut Diagnostics,
) -> Option<CallKindInput> {
    for (present, key) in [
        (raw.method.is_some(), "method"),
        (raw.body.is_some(), "body"),
    ] {
        if present {
            diag.error(query.span(), format!("{label}: a GraphQL call takes no `{key}` (it always POSTs {{query, variables}})"));
        }
    }
    Some(CallKindInput::GraphQl {
        path: raw
            .path
            .as_ref()
            .map_or_else(|| "/graphql".to_owned(), |p| p.to_string()),
        query: query.to_string(),
        variables,
        data: raw.data.as_ref().map(|d| d.to_string()),
    })
}

/// A unary method of the protos in the top-level `grpc:` section.
fn grpc(
    context: &RouteContext<'_>,
    raw: &RawCall,
    name: &Text,
    label: &str,
    body: Option<Value>,
    diag: &mut Diagnostics,
) -> Option<CallKindInput> {
    for (present, key) in [
        (raw.method.is_some(), "method"),
        (raw.variables.is_some(), "variables"),
        (raw.data.is_some(), "data"),
    ] {
        if present {
            diag.error(
                name.span(),
                format!("{label}: a gRPC call takes no `{key}`; `body` is its request message"),
            );
        }
    }
    let (method, json) = unary_method(context, name, label, diag)?;
    Some(CallKindInput::Grpc {
        method: method_name(&method),
        path: grpc_path(&method),
        body,
        json,
    })
}

/// The unary method named `name` in the `grpc:` section's protos.
fn unary_method(
    context: &RouteContext<'_>,
    name: &Text,
    label: &str,
    diag: &mut Diagnostics,
) -> Option<(MethodDescriptor, JsonOptions)> {
    let Some(section) = context.grpc else {
        let message = format!(
            "{label}: a gRPC call needs the top-level `grpc:` section with the protos that define {}",
            name.as_str()
        );
        diag.error(name.span(), message);
        return None;
    };
    let method = find_method(&section.pool, name)
        .map_err(|message| diag.error(name.span(), format!("{label}: {message}")))
        .ok()?;
    if method.is_client_streaming() || method.is_server_streaming() {
        diag.error(
            name.span(),
            format!(
                "{label}: {} is a streaming method; composition calls only unary methods",
                name.as_str()
            ),
        );
        return None;
    }
    Some((method, section.json))
}

fn method(text: Option<&Text>, label: &str, diag: &mut Diagnostics) -> Option<Method> {
    let Some(text) = text else {
        return Some(Method::GET);
    };
    match Method::from_bytes(text.as_bytes()) {
        Ok(method) if text.as_str() == text.to_ascii_uppercase() => Some(method),
        _ => {
            diag.error(
                text.span(),
                format!(
                    "{label}: \"{}\" is not an upper-case HTTP method",
                    text.as_str()
                ),
            );
            None
        }
    }
}
