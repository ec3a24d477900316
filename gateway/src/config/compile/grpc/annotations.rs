//! Routes generated from `google.api.http` annotations.
//!
//! For each `grpc.annotations` entry, every method of the chosen services
//! that carries an annotation becomes one route per binding (the main one
//! and each `additional_bindings`), at `prefix + template`.

use std::sync::Arc;
use std::time::Duration;

use marked_yaml::Spanned;

use super::super::super::errors::Diagnostics;
use super::super::super::model::grpc::{GrpcModeSpec, GrpcRouteSpec, TranscodeSpec};
use super::super::super::model::{BackendSpec, HeaderRules, RouteAction, RouteSpec};
use super::super::super::raw_grpc::{RawAnnotations, RawGrpc};
use super::super::positive_duration;
use super::super::routes::{CompiledRoute, RouteContext};
use super::GrpcSection;
use crate::protos::bindings::{BodyBinding, RequestBindings};
use crate::protos::descriptors::{CallKind, method_name};
use crate::protos::http_rule::{HttpRule, http_rules};
use crate::protos::path_template;
use crate::router::PathPattern;
use prost_reflect::{MethodDescriptor, ServiceDescriptor};

/// Expands every `grpc.annotations` entry into routes.
pub(in super::super) fn annotation_routes(
    raw: Option<&RawGrpc>,
    section: Option<&GrpcSection>,
    context: &RouteContext<'_>,
    diag: &mut Diagnostics,
) -> Vec<CompiledRoute> {
    let (Some(raw), Some(section)) = (raw, section) else {
        return Vec::new();
    };
    let mut routes = Vec::new();
    for entry in &raw.annotations {
        routes.extend(entry_routes(entry, section, context, diag));
    }
    routes
}

fn entry_routes(
    entry: &Spanned<RawAnnotations>,
    section: &GrpcSection,
    context: &RouteContext<'_>,
    diag: &mut Diagnostics,
) -> Vec<CompiledRoute> {
    let Some(backend) = super::resolve_backend(&entry.backend, context, diag) else {
        return Vec::new();
    };
    let prefix = entry
        .prefix
        .as_ref()
        .map(|p| p.trim_end_matches('/').to_owned())
        .unwrap_or_default();
    if !prefix.is_empty() && !prefix.starts_with('/') {
        diag.error(
            entry.prefix.as_ref().map_or(entry.span(), |p| p.span()),
            "grpc: annotations: prefix must start with '/'",
        );
        return Vec::new();
    }
    let timeout = positive_duration(entry.timeout.as_ref(), "grpc: annotations: timeout", diag);
    let target = Target {
        backend,
        prefix,
        section,
        timeout,
    };
    let mut routes = Vec::new();
    for service in services(entry, section, diag) {
        for method in service.methods() {
            let built = http_rules(&method).and_then(|rules| {
                rules
                    .iter()
                    .map(|rule| target.route(rule, &method))
                    .collect::<Result<Vec<_>, _>>()
            });
            match built {
                Ok(specs) => routes.extend(specs.into_iter().map(|spec| CompiledRoute {
                    label: format!("route \"{}\"", spec.name),
                    spec: Arc::new(spec),
                    span: *entry.span(),
                })),
                Err(problem) => diag.error(
                    entry.span(),
                    format!("grpc: annotations: {}: {problem}", method.full_name()),
                ),
            }
        }
    }
    routes
}

/// Where one annotations entry sends its routes.
struct Target<'a> {
    backend: Arc<BackendSpec>,
    prefix: String,
    section: &'a GrpcSection,
    timeout: Option<Duration>,
}

fn services(
    entry: &RawAnnotations,
    section: &GrpcSection,
    diag: &mut Diagnostics,
) -> Vec<ServiceDescriptor> {
    let Some(names) = &entry.services else {
        return section.pool.services().collect();
    };
    names
        .iter()
        .filter_map(|name| {
            let found = section.pool.get_service_by_name(name);
            if found.is_none() {
                diag.error(
                    name.span(),
                    format!(
                        "grpc: annotations: no service \"{}\" in the loaded protos",
                        name.as_str()
                    ),
                );
            }
            found
        })
        .collect()
}

impl Target<'_> {
    /// The route for one binding of a method.
    fn route(&self, rule: &HttpRule, method: &MethodDescriptor) -> Result<RouteSpec, String> {
        let template = path_template::parse(&rule.template).map_err(|e| e.to_string())?;
        let path = PathPattern::parse(&format!("{}{}", self.prefix, template.pattern))
            .map_err(|e| format!("path {:?}: {e}", rule.template))?;
        let bindings = RequestBindings {
            body: body_binding(rule.body.as_deref(), method)?,
            path: template.variables,
        };
        let transcoding = TranscodeSpec {
            method: method_name(method),
            kind: CallKind::of(method),
            bindings,
            json: self.section.json,
        };
        let route = GrpcRouteSpec {
            backend: Arc::clone(&self.backend),
            mode: GrpcModeSpec::Transcode(Box::new(transcoding)),
            metadata: self.section.metadata.clone(),
        };
        Ok(RouteSpec {
            load_shedding: None,
            name: format!("{} {} {}", method.full_name(), rule.method, path),
            methods: Some(vec![rule.method.clone()]),
            path,
            host: None,
            action: RouteAction::Grpc(Arc::new(route)),
            timeout: self.timeout,
            body_idle_timeout: None,
            max_body: None,
            headers: HeaderRules::default(),
            rate_limits: Vec::new(),
            // The top-level `cors:` is applied by `compile`.
            security: Default::default(),
            retry: None,
            emit: Vec::new(),
            async_spec: None,
        })
    }
}

/// The rule's `body`: none, `"*"`, or a field of the input message.
fn body_binding(body: Option<&str>, method: &MethodDescriptor) -> Result<BodyBinding, String> {
    match body {
        None => Ok(BodyBinding::None),
        Some("*") => Ok(BodyBinding::All),
        Some(field) if method.input().get_field_by_name(field).is_some() => {
            Ok(BodyBinding::Field(field.to_owned()))
        }
        Some(field) => Err(format!(
            "body field \"{field}\" is not in {}",
            method.input().full_name()
        )),
    }
}
