//! The `compose` action: raw calls → [`ComposeInput`] → [`ComposeSpec`]
//! (`build`: templates parsed, references resolved, the call graph).
//!
//! This step resolves backends, parses methods, durations and header
//! names, and turns YAML trees into JSON; `build` then checks the
//! templates and the call graph. Its errors come back with a location
//! inside the input, which is mapped here to the YAML node's line and
//! column.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, Method};
use marked_yaml::{Span, Spanned};

use super::super::errors::{Diagnostics, did_you_mean};
use super::super::model::{BackendSpec, EjectionPolicy, LoadBalancing, UpstreamProtocol};
use super::super::raw::{
    RawCall, RawCallCache, RawCompose, RawResponseCache, SpanIndex, Text, YamlTree, locate,
};
use super::positive_duration;
use super::routes::RouteContext;
use crate::config::model::compose::{CallCacheSettings, ComposeSpec, ResponseCacheSettings};
use build::{CallField, CallInput, CallKindInput, ComposeInput, Location, PlanError, build};

/// The deadline of a composed route that sets no `timeout`.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);
/// Default size of each cache.
const DEFAULT_CACHE_ENTRIES: u64 = 10_000;

/// What errors from `build` are mapped back to.
struct Spans<'a> {
    compose: &'a Span,
    calls: Vec<CallSpans<'a>>,
    response: Option<(SpanIndex, &'a Span)>,
    primary: Option<&'a Span>,
}

struct CallSpans<'a> {
    name: &'a Span,
    path: &'a Span,
    headers: Vec<&'a Span>,
    body: Option<(SpanIndex, &'a Span)>,
    variables: Option<(SpanIndex, &'a Span)>,
}

/// Compiles a `compose:` block; `route_timeout` is the route's `timeout`,
/// which is the composition's deadline.
pub(super) fn compile_compose(
    compose: &Spanned<RawCompose>,
    route_timeout: Option<&Text>,
    context: &RouteContext<'_>,
    diag: &mut Diagnostics,
) -> Option<Arc<ComposeSpec>> {
    let label = format!("{}: compose", context.label);
    let errors_before = diag.error_count();
    let (input, spans) = compose_input(compose, route_timeout, &label, context, diag);
    let params: Vec<String> = context.pattern?.param_names().map(str::to_owned).collect();
    // Built even when a call had errors (with fallbacks), so the template
    // and graph mistakes of the whole block are reported in one pass.
    match build(input, &params) {
        Ok(plan) if diag.error_count() == errors_before => Some(Arc::new(plan)),
        Ok(_) => None,
        Err(errors) => {
            report(errors, &spans, &label, &compose.calls.0, diag);
            None
        }
    }
}

/// The plan's input, and where each of its parts is written.
fn compose_input<'a>(
    compose: &'a Spanned<RawCompose>,
    route_timeout: Option<&Text>,
    label: &str,
    context: &RouteContext<'_>,
    diag: &mut Diagnostics,
) -> (ComposeInput, Spans<'a>) {
    let (calls, call_spans) = compose
        .calls
        .0
        .iter()
        .map(|(name, call)| call_input(name, call, label, context, diag))
        .unzip();
    let response = compose
        .response
        .as_ref()
        .map(|tree| (tree.to_json(), tree.span()));
    let spans = Spans {
        compose: compose.span(),
        calls: call_spans,
        response: response
            .as_ref()
            .map(|((_, index), span)| (index.clone(), *span)),
        primary: compose.primary.as_ref().map(Text::span),
    };
    let deadline = route_timeout
        .and_then(|text| super::super::units::parse_duration(text).ok())
        .filter(|deadline| !deadline.is_zero())
        .unwrap_or(DEFAULT_DEADLINE);
    let input = ComposeInput {
        calls,
        response: response.map(|((json, _), _)| json),
        primary: compose.primary.as_ref().map(|p| p.to_string()),
        sequential: compose.sequential.as_ref().is_some_and(|flag| **flag),
        deadline,
        cache: compose
            .cache
            .as_ref()
            .and_then(|cache| response_cache(cache, label, diag)),
    };
    (input, spans)
}

fn report(
    errors: Vec<PlanError>,
    spans: &Spans<'_>,
    label: &str,
    calls: &[(Text, RawCall)],
    diag: &mut Diagnostics,
) {
    for error in errors {
        let call_label = |index: usize| {
            calls.get(index).map_or(String::new(), |(name, _)| {
                format!(" call \"{}\":", name.as_str())
            })
        };
        let (span, prefix) = match &error.location {
            Location::Call(index) => (
                spans.calls.get(*index).map_or(spans.compose, |c| c.name),
                call_label(*index),
            ),
            Location::CallField { call, field, at } => {
                let span = spans
                    .calls
                    .get(*call)
                    .map_or(spans.compose, |c| c.field_span(*field, at));
                (span, call_label(*call))
            }
            Location::Response(at) => {
                let span = spans
                    .response
                    .as_ref()
                    .map_or(spans.compose, |(index, span)| locate(index, span, at));
                (span, " response:".to_owned())
            }
            Location::Primary => (
                spans.primary.unwrap_or(spans.compose),
                " primary:".to_owned(),
            ),
            Location::Compose => (spans.compose, String::new()),
        };
        diag.error(span, format!("{label}:{prefix} {}", error.message));
    }
}

impl<'a> CallSpans<'a> {
    fn of(
        name: &'a Text,
        raw: &'a RawCall,
        body: Option<((serde_json::Value, SpanIndex), &'a Span)>,
        variables: Option<((serde_json::Value, SpanIndex), &'a Span)>,
    ) -> Self {
        let path = [&raw.path, &raw.graphql, &raw.grpc]
            .into_iter()
            .flatten()
            .next();
        CallSpans {
            name: name.span(),
            path: path.map_or(name.span(), Text::span),
            headers: raw
                .headers
                .0
                .iter()
                .map(|(_, value)| value.span())
                .collect(),
            body: body.map(|((_, index), span)| (index, span)),
            variables: variables.map(|((_, index), span)| (index, span)),
        }
    }

    fn field_span(&self, field: CallField, at: &[String]) -> &Span {
        let tree = match field {
            CallField::Path | CallField::Data => return self.path,
            CallField::Header(n) => return self.headers.get(n).copied().unwrap_or(self.name),
            CallField::Body => &self.body,
            CallField::Variables => &self.variables,
        };
        match tree {
            Some((index, span)) => locate(index, span, at),
            None => self.name,
        }
    }
}

/// One call's input. A part with errors (already recorded) is replaced
/// by a fallback, so the rest of the block is still checked.
fn call_input<'a>(
    name: &'a Text,
    raw: &'a RawCall,
    label: &str,
    context: &RouteContext<'_>,
    diag: &mut Diagnostics,
) -> (CallInput, CallSpans<'a>) {
    let label = format!("{label}: call \"{}\"", name.as_str());
    let tree = |tree: &'a Option<YamlTree>| tree.as_ref().map(|t| (t.to_json(), t.span()));
    let body = tree(&raw.body);
    let variables = tree(&raw.variables);
    let kind = kinds::call_kind(
        context,
        raw,
        &label,
        body.as_ref().map(|((json, _), _)| json.clone()),
        variables.as_ref().map(|((json, _), _)| json.clone()),
        diag,
    );
    let backend = resolve_backend(&raw.backend, &label, context, diag);
    let timeout = positive_duration(raw.timeout.as_ref(), &format!("{label}: timeout"), diag);
    let headers = header_names(raw, &label, diag);
    let cache = raw
        .cache
        .as_ref()
        .and_then(|cache| call_cache(cache, &label, diag));
    let spans = CallSpans::of(name, raw, body, variables);
    let input = CallInput {
        name: name.to_string(),
        backend: backend.map_or_else(|| fallback_backend(&raw.backend), Arc::clone),
        kind: kind.unwrap_or(CallKindInput::Rest {
            method: Method::GET,
            path: "/".to_owned(),
            body: None,
        }),
        optional: raw.optional.unwrap_or(false),
        timeout,
        headers,
        coalesce: raw.coalesce,
        cache,
        propagate: super::propagation::compile_rules(
            &raw.propagate,
            &format!("{label}: propagate"),
            diag,
        ),
        retry: raw.retry.as_ref().map(|retry| {
            let what = format!("{label}: retry");
            Arc::new(super::resilience::retry_policy(
                retry,
                &Default::default(),
                &what,
                diag,
            ))
        }),
    };
    (input, spans)
}

/// Stands in for an unknown backend while the rest is checked; a config
/// with one is always rejected.
fn fallback_backend(name: &Text) -> Arc<BackendSpec> {
    Arc::new(BackendSpec {
        health_check: None,
        tls: Default::default(),
        name: name.to_string(),
        urls: Vec::new(),
        protocol: UpstreamProtocol::Http1,
        connect_timeout: Duration::ZERO,
        request_timeout: Duration::ZERO,
        body_idle_timeout: Duration::ZERO,
        max_connections: 0,
        load_balancing: LoadBalancing::RoundRobin,
        ejection: EjectionPolicy {
            consecutive_failures: 0,
            cooldown: Duration::ZERO,
        },
        resilience: Default::default(),
    })
}

fn resolve_backend<'a>(
    backend: &Text,
    label: &str,
    context: &RouteContext<'a>,
    diag: &mut Diagnostics,
) -> Option<&'a Arc<BackendSpec>> {
    if let Some(spec) = context.backends.get(backend.as_str()) {
        return Some(spec);
    }
    if !context.declared_backends.contains(backend.as_str()) {
        let suggestion = did_you_mean(backend, context.declared_backends.iter().copied());
        diag.error(
            backend.span(),
            format!(
                "{label} names unknown backend \"{}\"{suggestion}",
                backend.as_str()
            ),
        );
    }
    None
}

fn header_names(raw: &RawCall, label: &str, diag: &mut Diagnostics) -> Vec<(HeaderName, String)> {
    raw.headers
        .0
        .iter()
        .filter_map(
            |(name, value)| match HeaderName::from_bytes(name.as_bytes()) {
                Ok(header) => Some((header, value.to_string())),
                Err(_) => {
                    diag.error(
                        name.span(),
                        format!("{label}: \"{}\" is not a valid header name", name.as_str()),
                    );
                    None
                }
            },
        )
        .collect()
}

fn call_cache(
    raw: &Spanned<RawCallCache>,
    label: &str,
    diag: &mut Diagnostics,
) -> Option<CallCacheSettings> {
    let ttl = positive_duration(Some(&raw.ttl), &format!("{label}: cache.ttl"), diag)?;
    Some(CallCacheSettings {
        ttl,
        honor_cache_control: raw.honor_cache_control.unwrap_or(true),
        max_entries: raw
            .max_entries
            .as_ref()
            .map_or(DEFAULT_CACHE_ENTRIES, |n| **n),
    })
}

fn response_cache(
    raw: &Spanned<RawResponseCache>,
    label: &str,
    diag: &mut Diagnostics,
) -> Option<ResponseCacheSettings> {
    let ttl = positive_duration(Some(&raw.ttl), &format!("{label}: cache.ttl"), diag);
    let vary: Vec<HeaderName> = raw
        .vary
        .iter()
        .filter_map(|name| {
            HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| {
                    diag.error(
                        name.span(),
                        format!(
                            "{label}: cache.vary: \"{}\" is not a valid header name",
                            name.as_str()
                        ),
                    )
                })
                .ok()
        })
        .collect();
    Some(ResponseCacheSettings {
        ttl: ttl?,
        vary,
        max_entries: raw
            .max_entries
            .as_ref()
            .map_or(DEFAULT_CACHE_ENTRIES, |n| **n),
    })
}

pub mod build;
mod kinds;
#[cfg(test)]
mod tests;
