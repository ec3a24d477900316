//! The gRPC bridge's config: the `grpc:` section (protos compiled with
//! protox at load time, JSON defaults, metadata) and each route's `grpc:`
//! action. Annotation-derived routes are expanded in `grpc/annotations.rs`
//! into ordinary routes, so they share the route table and its conflict
//! checks with every other route.
//!
//! A proto that fails to compile is reported against the proto file, with
//! its line and column. The compiled descriptors are folded into the
//! config hash, so an edited proto is a change that reload applies.

mod annotations;
mod options;

use std::path::Path;
use std::sync::Arc;

use http::{HeaderName, Method};
use prost_reflect::{DescriptorPool, MethodDescriptor};
use sha2::{Digest, Sha256};

use super::super::errors::Diagnostics;
use super::super::model::grpc::{GrpcModeSpec, GrpcRouteSpec, TranscodeSpec};
use super::super::raw::Text;
use super::super::raw_grpc::{RawGrpc, RawGrpcRoute};
use super::routes::RouteContext;
use crate::protos::DescriptorSet;
use crate::protos::bindings::{BodyBinding, JsonOptions, RequestBindings};
use crate::protos::descriptors::{CallKind, ProtoError, compile_protos, find_method, method_name};
use crate::protos::path_template::{Variable, VariablePart};

pub(super) use annotations::annotation_routes;

/// The compiled `grpc:` section. `pool` is a temporary, for validation:
/// the config keeps only [`GrpcSection::descriptors`], the runtime pool is
/// decoded from those when the snapshot is built.
#[derive(Debug, Clone)]
pub(crate) struct GrpcSection {
    pub pool: DescriptorPool,
    pub descriptors: DescriptorSet,
    pub json: JsonOptions,
    pub metadata: Vec<HeaderName>,
    /// The .proto files on disk the pool was compiled from, imports included.
    pub files: Vec<std::path::PathBuf>,
}

/// Compiles the section; `None` if absent or if the protos failed.
pub(super) fn compile_section(
    raw: Option<&RawGrpc>,
    base_dir: &Path,
    diag: &mut Diagnostics,
) -> Option<GrpcSection> {
    let raw = raw?;
    let json = options::json_options(
        raw.unknown_fields.as_ref(),
        raw.max_depth.as_ref(),
        JsonOptions::default(),
        diag,
    );
    let metadata = options::metadata(&raw.metadata, diag);
    if raw.protos.is_empty() {
        diag.error(
            raw.protos.span(),
            "grpc: protos: list at least one .proto file",
        );
        return None;
    }
    let files: Vec<_> = raw
        .protos
        .iter()
        .map(|f| base_dir.join(f.as_str()))
        .collect();
    let includes: Vec<_> = raw
        .include
        .iter()
        .map(|d| base_dir.join(d.as_str()))
        .collect();
    match compile_protos(&files, &includes) {
        Ok(pool) => Some(GrpcSection {
            files: files_on_disk(&pool, &files, &includes),
            descriptors: DescriptorSet::of(&pool),
            pool,
            json,
            metadata,
        }),
        Err(error) => {
            report_proto_error(&error, raw, &includes, base_dir, diag);
            None
        }
    }
}

/// Where each file of `pool` was read from, for the reload watcher: the
/// named files, and each import found under an import root (well-known
/// types are built in and have no file).
fn files_on_disk(
    pool: &DescriptorPool,
    files: &[std::path::PathBuf],
    includes: &[std::path::PathBuf],
) -> Vec<std::path::PathBuf> {
    let roots: Vec<_> = includes
        .iter()
        .cloned()
        .chain(
            files
                .iter()
                .filter_map(|f| f.parent().map(Path::to_path_buf)),
        )
        .collect();
    let mut found: Vec<_> = files.to_vec();
    for file in pool.files() {
        let on_disk = roots
            .iter()
            .map(|root| root.join(file.name()))
            .find(|path| path.is_file());
        found.extend(on_disk);
    }
    found.sort();
    found.dedup();
    found
}

/// Reports a proto error against the proto file when it can be found.
fn report_proto_error(
    error: &ProtoError,
    raw: &RawGrpc,
    includes: &[std::path::PathBuf],
    base_dir: &Path,
    diag: &mut Diagnostics,
) {
    let located = error.file.as_deref().and_then(|name| {
        let roots = includes.iter().cloned().chain(
            raw.protos
                .iter()
                .filter_map(|f| base_dir.join(f.as_str()).parent().map(Path::to_path_buf)),
        );
        roots.map(|root| root.join(name)).find(|path| path.exists())
    });
    match (located, error.line) {
        (Some(path), Some(line)) => {
            let shown = path
                .strip_prefix(base_dir)
                .unwrap_or(&path)
                .display()
                .to_string();
            diag.error_in(
                &shown,
                line,
                error.column.unwrap_or(1),
                format!("proto does not compile: {}", error.message),
            );
        }
        _ => diag.error(raw.protos.span(), format!("grpc: protos: {error}")),
    }
}

/// Folds the compiled descriptors into the config hash.
pub(super) fn hash_with_protos(hash: String, section: Option<&GrpcSection>) -> String {
    match section {
        None => hash,
        Some(section) => hex::encode(
            Sha256::new()
                .chain_update(hash)
                .chain_update(section.descriptors.as_bytes())
                .finalize(),
        ),
    }
}

/// Compiles a route's `grpc:` key.
pub(super) fn compile_grpc_route(
    raw: &RawGrpcRoute,
    methods: Option<&[Method]>,
    context: &RouteContext<'_>,
    diag: &mut Diagnostics,
) -> Option<GrpcRouteSpec> {
    let label = context.label;
    let backend = resolve_backend(&raw.backend, context, diag);
    let section = context.grpc;
    let metadata = match &raw.metadata {
        Some(list) => options::metadata(list, diag),
        None => section.map(|s| s.metadata.clone()).unwrap_or_default(),
    };
    let mode = match (&raw.method, raw.passthrough.as_ref().map(|p| **p)) {
        (None, Some(true)) => {
            passthrough_ignores(raw, label, diag);
            GrpcModeSpec::Passthrough
        }
        (Some(method), None | Some(false)) => {
            GrpcModeSpec::Transcode(Box::new(transcoding(raw, method, methods, context, diag)?))
        }
        (Some(method), Some(true)) => {
            diag.error(
                method.span(),
                format!("{label}: grpc: set either method or passthrough: true, not both"),
            );
            return None;
        }
        (None, _) => {
            diag.error(
                raw.backend.span(),
                format!("{label}: grpc: set method (package.Service/Method) or passthrough: true"),
            );
            return None;
        }
    };
    Some(GrpcRouteSpec {
        backend: backend?,
        mode,
        metadata,
    })
}

/// `body`, `unknown_fields` and `max_depth` shape a transcoded request
/// message; a passthrough route forwards messages as they are.
fn passthrough_ignores(raw: &RawGrpcRoute, label: &str, diag: &mut Diagnostics) {
    let keys = [
        ("body", raw.body.as_ref().map(|b| b.span())),
        (
            "unknown_fields",
            raw.unknown_fields.as_ref().map(|u| u.span()),
        ),
        ("max_depth", raw.max_depth.as_ref().map(|m| m.span())),
    ];
    for (key, span) in keys {
        if let Some(span) = span {
            diag.error(
                span,
                format!(
                    "{label}: grpc: `{key}` does not apply with passthrough: true (it shapes a transcoded request; set `method` instead)"
                ),
            );
        }
    }
}

fn resolve_backend(
    name: &Text,
    context: &RouteContext<'_>,
    diag: &mut Diagnostics,
) -> Option<Arc<crate::config::model::BackendSpec>> {
    if let Some(spec) = context.backends.get(name.as_str()) {
        return Some(Arc::clone(spec));
    }
    if !context.declared_backends.contains(name.as_str()) {
        let suggestion =
            super::super::errors::did_you_mean(name, context.declared_backends.iter().copied());
        diag.error(
            name.span(),
            format!(
                "{} names unknown backend \"{}\"{suggestion}",
                context.label,
                name.as_str()
            ),
        );
    }
    None
}

fn transcoding(
    raw: &RawGrpcRoute,
    name: &Text,
    methods: Option<&[Method]>,
    context: &RouteContext<'_>,
    diag: &mut Diagnostics,
) -> Option<TranscodeSpec> {
    let label = context.label;
    let Some(section) = context.grpc else {
        if !context.grpc_declared {
            diag.error(
                name.span(),
                format!(
                    "{label}: grpc: method needs a top-level grpc: section listing the .proto files"
                ),
            );
        }
        return None;
    };
    let method = find_method(&section.pool, name)
        .map_err(|problem| diag.error(name.span(), format!("{label}: grpc: {problem}")))
        .ok()?;
    let json = options::json_options(
        raw.unknown_fields.as_ref(),
        raw.max_depth.as_ref(),
        section.json,
        diag,
    );
    let body = body_binding(raw.body.as_ref(), &method, methods, label, diag)?;
    let path = path_variables(&method, context, label, name, diag)?;
    Some(TranscodeSpec {
        method: method_name(&method),
        kind: CallKind::of(&method),
        bindings: RequestBindings { body, path },
        json,
    })
}

/// `body:`; by default none for GET/DELETE, the whole message otherwise.
fn body_binding(
    raw: Option<&Text>,
    method: &MethodDescriptor,
    methods: Option<&[Method]>,
    label: &str,
    diag: &mut Diagnostics,
) -> Option<BodyBinding> {
    let Some(text) = raw else {
        let bodiless =
            methods.is_some_and(|m| m.iter().all(|m| *m == Method::GET || *m == Method::DELETE));
        return Some(if bodiless {
            BodyBinding::None
        } else {
            BodyBinding::All
        });
    };
    match text.as_str() {
        "*" => Some(BodyBinding::All),
        field if method.input().get_field_by_name(field).is_some() => {
            Some(BodyBinding::Field(field.to_owned()))
        }
        field => {
            diag.error(
                text.span(),
                format!(
                    "{label}: grpc: body: {} has no field \"{field}\"",
                    method.input().full_name()
                ),
            );
            None
        }
    }
}

/// Every `{param}` of the route's path binds the input field of that name.
fn path_variables(
    method: &MethodDescriptor,
    context: &RouteContext<'_>,
    label: &str,
    at: &Text,
    diag: &mut Diagnostics,
) -> Option<Vec<Variable>> {
    let pattern = context.pattern?;
    let input = method.input();
    let mut variables = Vec::new();
    for name in pattern.param_names() {
        if input.get_field_by_name(name).is_none() {
            diag.error(
                at.span(),
                format!(
                    "{label}: path parameter {{{name}}} matches no field of {}",
                    input.full_name()
                ),
            );
            return None;
        }
        variables.push(Variable {
            field_path: vec![name.to_owned()],
            parts: vec![VariablePart::Param(name.to_owned())],
        });
    }
    Some(variables)
}

#[cfg(test)]
mod tests;
