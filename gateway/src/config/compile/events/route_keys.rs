//! The event keys of a route: `publish: TOPIC` (an action), `emit:`
//! (proxy, gRPC and compose routes) and `async:` (proxy routes).
//!
//! Templates in `emit:` read `{request…}` (the request body as JSON),
//! `{response…}` (the response body) and the route's path parameters;
//! `async.order_key` reads `{request…}` and the path parameters. They are
//! the composition's template language (`crate::template`), with
//! `request` and `response` standing where a composition has its calls.

use std::sync::Arc;

use http::Method;
use marked_yaml::{Span, Spanned};

use super::super::super::errors::Diagnostics;
use super::super::super::model::events::{
    AsyncMode, AsyncSpec, EmitCondition, EmitSpec, PublishAction,
};
use super::super::super::raw::{RawRoute, Text, locate};
use super::super::super::raw_events::{RawAsync, RawAsyncMode, RawEmit};
use super::super::positive_duration;
use super::subscriptions::resolve_topic;
use super::{TopicScope, attempts, backoff};
use crate::router::PathPattern;
use crate::template::value::ValueTemplate;
use crate::template::{Expr, Root, Scope, StringTemplate};

/// The methods of a publish route: `POST` publishes, `GET` streams.
pub(in crate::config::compile) const PUBLISH_METHODS: [Method; 2] = [Method::GET, Method::POST];

/// `publish: TOPIC`. A route that lists methods may list only `GET` and
/// `POST`.
pub(in crate::config::compile) fn compile_publish(
    raw: &RawRoute,
    topic: &Text,
    methods: Option<&[Method]>,
    topics: TopicScope<'_>,
    label: &str,
    diag: &mut Diagnostics,
) -> Option<PublishAction> {
    let what = format!("{label}: publish");
    let methods_ok = methods.is_none_or(|methods| {
        let refused: Vec<&str> = methods
            .iter()
            .filter(|method| !PUBLISH_METHODS.contains(method))
            .map(Method::as_str)
            .collect();
        if !refused.is_empty() {
            let span = raw
                .method
                .as_ref()
                .map(Text::span)
                .or(raw.methods.as_ref().map(|m| m.span()))
                .unwrap_or(raw.path.span());
            diag.error(
                span,
                format!(
                    "{what}: a publish route takes POST (publish) and GET (stream), not {}",
                    refused.join(", ")
                ),
            );
        }
        refused.is_empty()
    });
    let topic = resolve_topic(topic, topics, &what, diag)?;
    methods_ok.then_some(PublishAction { topic })
}

/// What emit templates may read.
struct EmitScope<'a> {
    params: Option<&'a PathPattern>,
    /// `request` only (async), or `request` and `response` (emit).
    roots: &'a [&'a str],
}

impl Scope for EmitScope<'_> {
    fn call_index(&self, name: &str) -> Option<usize> {
        self.roots.iter().position(|root| *root == name)
    }

    fn has_param(&self, name: &str) -> bool {
        self.params
            .is_some_and(|pattern| pattern.param_names().any(|param| param == name))
    }
}

impl EmitScope<'_> {
    /// What templates here may read, for messages.
    fn readable(&self) -> String {
        let params = self.params.into_iter().flat_map(PathPattern::param_names);
        let names: Vec<&str> = self.roots.iter().copied().chain(params).collect();
        names.join(", ")
    }

    /// The composition's resolve messages, in this scope's words.
    fn reword(&self, message: String) -> String {
        let unknown = "which is neither a call nor a path parameter of the route";
        message
            .replace(
                unknown,
                &format!("which is not one of: {}", self.readable()),
            )
            .replace("rename the call", "rename the parameter")
    }

    fn string_template(
        &self,
        text: &Text,
        what: &str,
        diag: &mut Diagnostics,
    ) -> Option<StringTemplate> {
        let mut template = StringTemplate::parse(text)
            .map_err(|error| diag.error(text.span(), format!("{what}: {error}")))
            .ok()?;
        let mut valid = true;
        for expr in template.exprs_mut() {
            if let Err(message) = expr.resolve(self) {
                diag.error(text.span(), format!("{what}: {}", self.reword(message)));
                valid = false;
            }
        }
        valid.then_some(template)
    }
}

/// `emit:`: every entry, or nothing when one has an error (recorded).
pub(in crate::config::compile) fn compile_emit(
    raw: &[RawEmit],
    pattern: Option<&PathPattern>,
    topics: TopicScope<'_>,
    label: &str,
    diag: &mut Diagnostics,
) -> Vec<Arc<EmitSpec>> {
    let scope = EmitScope {
        params: pattern,
        roots: &EmitSpec::ROOTS,
    };
    raw.iter()
        .enumerate()
        .filter_map(|(index, emit)| {
            let what = format!("{label}: emit[{index}]");
            compile_one_emit(emit, &scope, topics, &what, diag).map(Arc::new)
        })
        .collect()
}

fn compile_one_emit(
    raw: &RawEmit,
    scope: &EmitScope<'_>,
    topics: TopicScope<'_>,
    what: &str,
    diag: &mut Diagnostics,
) -> Option<EmitSpec> {
    let errors_before = diag.error_count();
    let topic = resolve_topic(&raw.topic, topics, what, diag);
    let event_type = literal(&raw.event_type, &format!("{what}.type"), diag);
    let source = raw
        .source
        .as_ref()
        .and_then(|source| literal(source, &format!("{what}.source"), diag));
    let statuses = statuses(raw.statuses.as_deref(), what, diag);
    let subject = raw
        .subject
        .as_ref()
        .and_then(|text| scope.string_template(text, &format!("{what}.subject"), diag));
    let when = raw.when.as_ref().and_then(|when| {
        let value = scope.string_template(&when.value, &format!("{what}.when.value"), diag)?;
        Some(EmitCondition {
            value,
            equals: when.equals.to_string(),
        })
    });
    let data = data_template(raw, scope, what, diag);
    if diag.error_count() > errors_before {
        return None;
    }
    Some(EmitSpec {
        topic: topic?,
        event_type: event_type?,
        statuses,
        when,
        subject,
        source,
        data: data?,
    })
}

/// A non-empty string without template holes.
fn literal(text: &Text, what: &str, diag: &mut Diagnostics) -> Option<String> {
    let problem = if text.trim().is_empty() {
        "must not be empty"
    } else if text.contains(['{', '}']) {
        "is fixed text; templates are not read here"
    } else {
        return Some(text.to_string());
    };
    diag.error(text.span(), format!("{what} {problem}"));
    None
}

fn statuses(raw: Option<&[Spanned<u16>]>, what: &str, diag: &mut Diagnostics) -> Vec<u16> {
    let Some(raw) = raw else {
        return Vec::new();
    };
    if raw.is_empty() {
        // An empty list would never emit: say so rather than ignore it.
        diag.error(
            &Span::new_blank(),
            format!("{what}.statuses: list at least one status, or leave it out for every 2xx"),
        );
    }
    for status in raw
        .iter()
        .filter(|status| !(100..=599).contains(&***status))
    {
        diag.error(
            status.span(),
            format!("{what}.statuses: {} is not an HTTP status", **status),
        );
    }
    raw.iter().map(|status| **status).collect()
}

/// `data:`, else the whole response body (`{response}`).
fn data_template(
    raw: &RawEmit,
    scope: &EmitScope<'_>,
    what: &str,
    diag: &mut Diagnostics,
) -> Option<ValueTemplate> {
    let Some(tree) = &raw.data else {
        return Some(ValueTemplate::Expr(Expr {
            root: Root::Call {
                index: 1,
                name: "response".to_owned(),
            },
            path: Vec::new(),
            filter: None,
        }));
    };
    let (json, index) = tree.to_json();
    let mut errors = Vec::new();
    let mut template = ValueTemplate::compile(&json, &mut Vec::new(), &mut errors);
    // A string that did not parse is a null literal: the rest resolves.
    template.resolve(scope, &mut Vec::new(), &mut errors);
    let valid = errors.is_empty();
    for error in errors {
        let span = locate(&index, tree.span(), &error.at);
        let path = if error.at.is_empty() {
            String::new()
        } else {
            format!(".{}", error.at.join("."))
        };
        let message = scope.reword(error.message);
        diag.error(span, format!("{what}.data{path}: {message}"));
    }
    valid.then_some(template)
}

/// `async:` on a proxy route.
pub(in crate::config::compile) fn compile_async(
    raw: &Spanned<RawAsync>,
    pattern: Option<&PathPattern>,
    label: &str,
    diag: &mut Diagnostics,
) -> Option<AsyncSpec> {
    let what = format!("{label}: async");
    let errors_before = diag.error_count();
    let scope = EmitScope {
        params: pattern,
        roots: &EmitSpec::ROOTS[..1],
    };
    let order_key = raw
        .order_key
        .as_ref()
        .and_then(|text| scope.string_template(text, &format!("{what}.order_key"), diag));
    let backoff = backoff(
        raw.backoff.as_ref(),
        AsyncSpec::DEFAULT_BACKOFF,
        &what,
        diag,
    );
    let max_attempts = attempts(
        raw.max_attempts.as_ref(),
        AsyncSpec::DEFAULT_MAX_ATTEMPTS,
        AsyncSpec::MAX_ATTEMPTS,
        &what,
        diag,
    );
    let result_ttl =
        positive_duration(raw.result_ttl.as_ref(), &format!("{what}.result_ttl"), diag)
            .unwrap_or(AsyncSpec::DEFAULT_RESULT_TTL);
    if diag.error_count() > errors_before {
        return None;
    }
    Some(AsyncSpec {
        mode: match raw.mode.as_deref() {
            Some(RawAsyncMode::OnRequest) => AsyncMode::OnRequest,
            Some(RawAsyncMode::Always) | None => AsyncMode::Always,
        },
        order_key,
        backoff,
        max_attempts,
        result_ttl,
    })
}
