//! `routes:`: the fields every route shares, and the choice of its action.
//!
//! A route's action is chosen by which action key it carries: `backend`
//! (proxy, see `proxy.rs`), `grpc` (`grpc.rs`) or `compose` (`compose.rs`).
//! To add one:
//! 1. add the raw field to `RawRoute` in `raw.rs`;
//! 2. add a variant to [`ActionKey`] and a line in [`declared_actions`];
//! 3. add an arm in [`compile_action`] calling your `compile/<action>.rs`,
//!    which returns a new `RouteAction` variant.
//!
//! "Exactly one action key" is checked here for all of them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use http::Method;
use marked_yaml::{Span, Spanned};

use super::super::errors::Diagnostics;
use super::super::model::security::RouteSecurity;
use super::super::model::{BackendSpec, RouteAction, RouteSpec};
use super::super::raw::{RawCompose, RawRoute, RouteEntry, Text};
use super::super::raw_grpc::RawGrpcRoute;

use super::headers::compile_headers;
use super::resilience::retry_policy;
use super::{
    action_keys, body_limit, compose, events, grpc, load_shedding, positive_duration, proxy,
};
use crate::router::PathPattern;

/// A compiled route with what error messages need to point back at it.
pub(super) struct CompiledRoute {
    pub spec: Arc<RouteSpec>,
    /// `route "NAME"` or `route "PATH"`.
    pub label: String,
    /// Where the route's `path` is written.
    pub span: Span,
}

/// What an action compiler gets to know about its route.
pub(super) struct RouteContext<'a> {
    pub label: &'a str,
    /// `None` when the path did not parse (its error is already recorded).
    pub pattern: Option<&'a PathPattern>,
    /// The backends that compiled.
    pub backends: &'a BTreeMap<String, Arc<BackendSpec>>,
    /// Every backend name in the file, including those with errors (a
    /// route naming one of those is not reported again).
    pub declared_backends: &'a BTreeSet<&'a str>,
    /// The compiled `grpc:` section, if present and valid.
    pub grpc: Option<&'a super::grpc::GrpcSection>,
    /// Whether the file has a `grpc:` section at all (if it does but it
    /// failed, routes using it are not reported again).
    pub grpc_declared: bool,
    /// The `rate_limits:` section, if present (route limits may not reuse
    /// its global names; `store: redis` needs its `redis:`).
    pub rate_limits: Option<&'a super::super::raw::rate_limit::RawRateLimits>,
    /// The compiled `auth:` section, for routes' `auth:` to refer to.
    pub auth: &'a crate::config::model::security::AuthSettings,
    /// Every provider and key-set name written under `auth:`, including
    /// those with errors (a route naming one is not reported again).
    pub auth_declared: &'a BTreeSet<&'a str>,
    /// The top-level `cors:`, for routes without their own.
    pub default_cors: Option<&'a Arc<crate::config::model::security::CorsPolicy>>,
    /// The `events:` topics, for `publish:` and `emit:`.
    pub topics: super::events::TopicScope<'a>,
}

/// The keys that choose a route's action. Exactly one must be present.
pub(super) enum ActionKey<'a> {
    Backend(&'a Text),
    Grpc(&'a RawGrpcRoute),
    Compose(&'a Spanned<RawCompose>),
    Publish(&'a Text),
}

/// Every action key, for messages.
const ACTION_KEYS: &[&str] = &["backend", "grpc", "compose", "publish"];

impl ActionKey<'_> {
    pub(super) fn key(&self) -> &'static str {
        match self {
            ActionKey::Backend(_) => "backend",
            ActionKey::Grpc(_) => "grpc",
            ActionKey::Compose(_) => "compose",
            ActionKey::Publish(_) => "publish",
        }
    }

    fn span(&self) -> &Span {
        match self {
            ActionKey::Backend(text) => text.span(),
            ActionKey::Grpc(grpc) => grpc.backend.span(),
            ActionKey::Compose(compose) => compose.span(),
            ActionKey::Publish(topic) => topic.span(),
        }
    }
}

pub(super) fn declared_actions(raw: &RawRoute) -> Vec<ActionKey<'_>> {
    let mut declared = Vec::new();
    if let Some(backend) = &raw.backend {
        declared.push(ActionKey::Backend(backend));
    }
    if let Some(grpc) = &raw.grpc {
        declared.push(ActionKey::Grpc(grpc));
    }
    if let Some(compose) = &raw.compose {
        declared.push(ActionKey::Compose(compose));
    }
    if let Some(topic) = &raw.publish {
        declared.push(ActionKey::Publish(topic));
    }
    declared
}

/// Compiles every route; a route with errors is left out (its errors are
/// recorded). Explicit `name`s must be unique.
pub(super) fn compile_routes(
    raw: &[RouteEntry],
    shared: &RouteContext<'_>,
    diag: &mut Diagnostics,
) -> Vec<CompiledRoute> {
    check_unique_names(raw, diag);
    raw.iter()
        .filter_map(|entry| {
            let label = route_label(&entry.route);
            let context = RouteContext {
                label: &label,
                ..*shared
            };
            compile_route(entry, context, diag)
        })
        .collect()
}

fn check_unique_names(raw: &[RouteEntry], diag: &mut Diagnostics) {
    let mut first_seen: HashMap<&str, &Span> = HashMap::new();
    for name in raw.iter().filter_map(|entry| entry.route.name.as_ref()) {
        match first_seen.get(name.as_str()) {
            Some(first) => {
                let line = first.start().map_or(0, |mark| mark.line());
                diag.error(
                    name.span(),
                    format!(
                        "route name \"{}\" is already used on line {line}",
                        name.as_str()
                    ),
                );
            }
            None => {
                first_seen.insert(name.as_str(), name.span());
            }
        }
    }
}

/// `context.pattern` is filled in here, once the path has parsed.
fn compile_route(
    entry: &RouteEntry,
    context: RouteContext<'_>,
    diag: &mut Diagnostics,
) -> Option<CompiledRoute> {
    let raw = &entry.route;
    let label = context.label;
    let errors_before = diag.error_count();
    let pattern = path_pattern(&raw.path, label, diag);
    let methods = methods(raw, label, diag);
    let host = host(raw.host.as_ref(), label, diag);
    let context = RouteContext {
        pattern: pattern.as_ref(),
        ..context
    };
    let action = compile_action(raw, &entry.span, methods.as_deref(), &context, diag);
    // A publish route without methods takes the two it serves, so others
    // get 405 with `Allow`.
    let methods = match (&action, methods) {
        (Some(RouteAction::Publish(_)), None) => Some(events::PUBLISH_METHODS.to_vec()),
        (_, methods) => methods,
    };
    let emit = raw.emit.as_deref().map_or_else(Vec::new, |emit| {
        events::compile_emit(emit, pattern.as_ref(), context.topics, label, diag)
    });
    let async_spec = raw
        .async_spec
        .as_ref()
        .and_then(|spec| events::compile_async(spec, pattern.as_ref(), label, diag).map(Arc::new));
    let timeout = positive_duration(raw.timeout.as_ref(), &format!("{label}: timeout"), diag);
    let body_idle_timeout = positive_duration(
        raw.body_idle_timeout.as_ref(),
        &format!("{label}: body_idle_timeout"),
        diag,
    );
    // `unlimited` is a limit no body reaches (a route that streams uploads).
    let max_body = body_limit(raw.max_body.as_ref(), &format!("{label}: max_body"), diag)
        .map(|limit| limit.unwrap_or(u64::MAX));
    let headers = compile_headers(raw.headers.as_ref(), label, diag);
    let rate_limits = super::rate_limit::compile_route_limits(
        raw.rate_limits.as_ref(),
        label,
        context.rate_limits,
        diag,
    );
    let load_shedding = raw
        .load_shedding
        .as_ref()
        .and_then(|shedding| load_shedding::compile(shedding, label, raw.path.span(), diag));
    let security = route_security(
        raw.auth.as_ref(),
        raw.cors.as_ref(),
        &context,
        &entry.span,
        diag,
    );
    let retry = raw.retry.as_ref().map(|retry| {
        let what = format!("{label}: retry");
        Arc::new(retry_policy(retry, &Default::default(), &what, diag))
    });
    action_keys::check(raw, label, diag);
    if diag.error_count() > errors_before {
        return None;
    }
    let spec = RouteSpec {
        name: spec_name(raw, methods.as_deref()),
        methods,
        path: pattern?,
        host,
        action: action?,
        timeout,
        body_idle_timeout,
        max_body,
        headers,
        rate_limits,
        load_shedding,
        security,
        retry,
        emit,
        async_spec,
    };
    Some(CompiledRoute {
        spec: Arc::new(spec),
        label: label.to_owned(),
        span: *raw.path.span(),
    })
}

/// A route's `auth:` and `cors:` (else the top-level `cors:`).
pub(super) fn route_security(
    auth: Option<&crate::config::raw_security::RawRouteAuth>,
    cors: Option<&crate::config::raw_security::RawCors>,
    context: &RouteContext<'_>,
    span: &Span,
    diag: &mut Diagnostics,
) -> RouteSecurity {
    let label = context.label;
    RouteSecurity {
        auth: super::auth::compile_route_auth(
            auth,
            (context.auth, context.auth_declared),
            label,
            span,
            diag,
        ),
        cors: match cors {
            Some(raw) => super::cors::compile_cors(Some(raw), label, diag),
            None => context.default_cors.cloned(),
        },
    }
}

/// `route "NAME"` if named, else `route "PATH"`.
fn route_label(raw: &RawRoute) -> String {
    let shown = raw.name.as_ref().unwrap_or(&raw.path);
    format!("route \"{}\"", shown.as_str())
}

/// The `name` key, else `METHODS path` (`GET,POST /v1/orders`, `* /x`).
fn spec_name(raw: &RawRoute, methods: Option<&[Method]>) -> String {
    if let Some(name) = &raw.name {
        return name.to_string();
    }
    let methods = methods.map_or_else(
        || "*".to_owned(),
        |methods| {
            methods
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(",")
        },
    );
    format!("{methods} {}", raw.path.as_str())
}

fn path_pattern(path: &Text, label: &str, diag: &mut Diagnostics) -> Option<PathPattern> {
    PathPattern::parse(path)
        .map_err(|error| diag.error(path.span(), format!("{label}: bad path pattern: {error}")))
        .ok()
}

fn compile_action(
    raw: &RawRoute,
    route_span: &Span,
    methods: Option<&[Method]>,
    context: &RouteContext<'_>,
    diag: &mut Diagnostics,
) -> Option<RouteAction> {
    let declared = declared_actions(raw);
    let action = match declared.as_slice() {
        [action] => action,
        [] => {
            let keys = ACTION_KEYS.join(", ");
            diag.error(
                route_span,
                format!("{} has no action; add one of: {keys}", context.label),
            );
            return None;
        }
        [first, second, ..] => {
            let message = format!(
                "{}: set only one of {} and {}; a route has exactly one action",
                context.label,
                first.key(),
                second.key()
            );
            diag.error(second.span(), message);
            return None;
        }
    };
    match action {
        ActionKey::Backend(backend) => {
            proxy::compile_proxy(raw, backend, context, diag).map(RouteAction::Proxy)
        }
        ActionKey::Grpc(grpc) => grpc::compile_grpc_route(grpc, methods, context, diag)
            .map(|route| RouteAction::Grpc(Arc::new(route))),
        ActionKey::Compose(compose) => {
            compose::compile_compose(compose, raw.timeout.as_ref(), context, diag)
                .map(RouteAction::Compose)
        }
        ActionKey::Publish(topic) => {
            events::compile_publish(raw, topic, methods, context.topics, context.label, diag)
                .map(RouteAction::Publish)
        }
    }
}

/// `method:` or `methods:`; `None` (every method) when neither is set.
fn methods(raw: &RawRoute, label: &str, diag: &mut Diagnostics) -> Option<Vec<Method>> {
    let listed: Vec<&Text> = match (&raw.method, &raw.methods) {
        (None, None) => return None,
        (Some(method), None) => vec![method],
        (None, Some(methods)) if methods.is_empty() => {
            diag.error(
                methods.span(),
                format!("{label}: methods: list at least one method"),
            );
            return None;
        }
        (None, Some(methods)) => methods.iter().collect(),
        (Some(method), Some(_)) => {
            diag.error(
                method.span(),
                format!("{label}: set either method or methods, not both"),
            );
            return None;
        }
    };
    let mut methods = Vec::with_capacity(listed.len());
    for text in listed {
        let Some(method) = method(text, label, diag) else {
            continue;
        };
        if methods.contains(&method) {
            diag.error(
                text.span(),
                format!("{label}: method {method} is listed twice"),
            );
        }
        methods.push(method);
    }
    Some(methods)
}

fn method(text: &Text, label: &str, diag: &mut Diagnostics) -> Option<Method> {
    let upper = text.to_ascii_uppercase();
    let problem = if text.as_str() != upper && Method::from_bytes(upper.as_bytes()).is_ok() {
        format!("methods are upper-case: write \"{upper}\"")
    } else if let Ok(method) = Method::from_bytes(text.as_bytes()) {
        return Some(method);
    } else {
        format!("\"{}\" is not an HTTP method", text.as_str())
    };
    diag.error(text.span(), format!("{label}: {problem}"));
    None
}

/// A bare host name, matched case-insensitively, port ignored.
fn host(value: Option<&Text>, label: &str, diag: &mut Diagnostics) -> Option<String> {
    let text = value?;
    let host = text.trim().to_ascii_lowercase();
    let problem = if host.contains(':') {
        "must not include a port (the request's port is ignored when matching)"
    } else if host.is_empty()
        || !host.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
    {
        "must be a host name such as \"api.example.com\""
    } else {
        return Some(host);
    };
    diag.error(
        text.span(),
        format!("{label}: host \"{}\" {problem}", text.as_str()),
    );
    None
}
