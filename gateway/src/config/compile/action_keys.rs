//! Route keys that only some actions apply are errors on the others, so
//! that nothing in routes.yaml is silently ignored.
//!
//! | key | proxy (`backend`) | `grpc` | `compose` |
//! |---|---|---|---|
//! | `rewrite` | applied | error: the upstream path is the method's | error: each call names its path |
//! | `headers` | applied | error: use `grpc.metadata` | error: use `calls.<name>.headers` |
//! | `body_idle_timeout` | applied | applied (every call kind) | error: each call's `timeout` bounds its whole body |
//! | `timeout`, `max_body` | applied | applied | applied (`timeout` is the deadline) |
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
    let async_key = raw.async_route.as_ref().map(|a| a.span());
    let candidates = match action {
        ActionKey::Backend(_) => vec![],
        ActionKey::Grpc(_) => vec![
            ("rewrite", rewrite, "the upstream path is the method's"),
            (
                "async",
                async_key,
                "only proxy (`backend:`) routes can be async",
            ),
            (
                "headers",
                headers,
                "list headers to pass as gRPC metadata under `grpc.metadata`",
            ),
        ],
        ActionKey::Compose(_) => vec![
            ("rewrite", rewrite, "each call names its own path"),
            (
                "async",
                async_key,
                "only proxy (`backend:`) routes can be async",
            ),
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
        ],
    };
    candidates
        .into_iter()
        .filter_map(|(key, span, hint)| Some((key, span?, hint)))
        .collect()
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
