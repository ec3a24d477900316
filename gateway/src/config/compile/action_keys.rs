//! Route keys that only some actions apply are errors on the others, so
//! that nothing in routes.yaml is silently ignored.
//!
//! | key | proxy (`backend`) | `grpc` | `compose` | `publish` |
//! |---|---|---|---|---|
//! | `rewrite` | applied | error: the upstream path is the method's | error: each call names its path | error: no upstream |
//! | `headers` | applied | error: use `grpc.metadata` | error: use `calls.<name>.headers` | error: no upstream |
//! | `body_idle_timeout` | applied | applied (every call kind) | error: each call's `timeout` bounds its whole body | error: no upstream |
//! | `timeout` | applied | applied | applied (`timeout` is the deadline) | error: no upstream |
//! | `retry` | applied | applied | applied | error: no upstream |
//! | `max_body` | applied | applied | applied | applied |
//! | `emit` | applied | applied (not `passthrough`) | applied | error: the route stores events itself |
//! | `async` | applied | error | error | error |
//!
//! Inside `grpc:`, `body`, `unknown_fields` and `max_depth` shape the
//! transcoded request message; on a `passthrough: true` route they are
//! errors (checked in `grpc.rs`). Inside `compose.calls`, the keys of
//! other call kinds are errors (checked in `compose/kinds.rs`).

use marked_yaml::Span;

use super::super::errors::Diagnostics;
use super::super::raw::{RawHeaderEdits, RawHeaders, RawRoute};
use super::routes::{ActionKey, declared_actions};

/// Records an error for every key of `raw` its action does not apply.
pub(super) fn check(raw: &RawRoute, label: &str, diag: &mut Diagnostics) {
    let declared = declared_actions(raw);
    let [action] = declared.as_slice() else {
        return; // no action, or several: reported by the action check
    };
    for (key, span, hint) in ignored_keys(raw, action) {
        let kind = action_name(action);
        diag.error(
            span,
            format!("{label}: `{key}` does not apply to a {kind} route ({hint})"),
        );
    }
}

fn action_name(action: &ActionKey<'_>) -> &'static str {
    match action {
        ActionKey::Backend(_) => "proxied",
        ActionKey::Grpc(_) => "gRPC",
        ActionKey::Compose(_) => "compose",
        ActionKey::Publish(_) => "publish",
    }
}

/// `(key, where it is written, what to do instead)` for each present key
/// the action would ignore.
fn ignored_keys<'a>(
    raw: &'a RawRoute,
    action: &ActionKey<'_>,
) -> Vec<(&'static str, &'a Span, &'static str)> {
    let rewrite = raw.rewrite.as_ref().map(|r| r.span());
    let headers = raw
        .headers
        .as_ref()
        .map(|h| headers_span(h).unwrap_or(raw.path.span()));
    let body_idle = raw.body_idle_timeout.as_ref().map(|t| t.span());
    let emit = raw.emit.as_ref().map(|emit| {
        emit.first()
            .map_or(raw.path.span(), |first| first.topic.span())
    });
    let async_spec = raw.async_spec.as_ref().map(|spec| spec.span());
    let not_async = "only a proxied (`backend`) route can store requests and answer 202";
    let candidates = match action {
        ActionKey::Backend(_) => vec![],
        ActionKey::Grpc(grpc) => vec![
            ("rewrite", rewrite, "the upstream path is the method's"),
            (
                "headers",
                headers,
                "list headers to pass as gRPC metadata under `grpc.metadata`",
            ),
            ("async", async_spec, not_async),
            (
                "emit",
                emit.filter(|_| grpc.passthrough.as_ref().is_some_and(|flag| **flag)),
                "a passthrough route's response is protobuf, which emit templates cannot read",
            ),
        ],
        ActionKey::Compose(_) => vec![
            ("rewrite", rewrite, "each call names its own path"),
            (
                "headers",
                headers,
                "set a call's request headers under `calls.<name>.headers`",
            ),
            (
                "body_idle_timeout",
                body_idle,
                "each call's `timeout` bounds its whole body",
            ),
            ("async", async_spec, not_async),
        ],
        ActionKey::Publish(_) => {
            let no_upstream = "a publish route calls no backend";
            vec![
                ("rewrite", rewrite, no_upstream),
                ("headers", headers, no_upstream),
                ("body_idle_timeout", body_idle, no_upstream),
                (
                    "timeout",
                    raw.timeout.as_ref().map(|t| t.span()),
                    no_upstream,
                ),
                ("retry", retry_span(raw), no_upstream),
                ("emit", emit, "the route stores the posted events itself"),
                ("async", async_spec, not_async),
            ]
        }
    };
    candidates
        .into_iter()
        .filter_map(|(key, span, hint)| Some((key, span?, hint)))
        .collect()
}

/// Where `retry:` is written: its first key (an empty mapping has none;
/// the route's path stands in).
fn retry_span(raw: &RawRoute) -> Option<&Span> {
    let retry = raw.retry.as_ref()?;
    let first = retry
        .max_attempts
        .as_ref()
        .map(|value| value.span())
        .or(retry.per_try_timeout.as_ref().map(|t| t.span()))
        .or(retry
            .backoff
            .as_ref()
            .and_then(|b| b.base.as_ref().or(b.max.as_ref()))
            .map(|t| t.span()))
        .or(retry.max_buffered_body.as_ref().map(|t| t.span()))
        .or(retry
            .retry_on
            .as_ref()
            .and_then(|list| list.first())
            .map(|t| t.span()))
        .or(retry
            .grpc_codes
            .as_ref()
            .and_then(|list| list.first())
            .map(|t| t.span()));
    Some(first.unwrap_or(raw.path.span()))
}

/// Where `headers:` is written: its first header name (an empty mapping
/// has none; the route's path stands in).
fn headers_span(headers: &RawHeaders) -> Option<&Span> {
    first_header(headers.request.as_ref()).or_else(|| first_header(headers.response.as_ref()))
}

fn first_header(edits: Option<&RawHeaderEdits>) -> Option<&Span> {
    let edits = edits?;
    let added = edits.add.0.first().map(|(name, _)| name.span());
    added.or_else(|| edits.remove.first().map(|name| name.span()))
}

#[cfg(test)]
mod tests;
