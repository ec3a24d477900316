//! `async:` on a proxy route → [`AsyncSpec`]. The order key is a template
//! over the route's path parameters and `body` (the JSON request body):
//! `order_key: "{id}"`, `order_key: "{body.customer_id}"`.

use std::sync::Arc;
use std::time::Duration;

use super::routes::RouteContext;
use super::{Diagnostics, positive_duration};
use crate::config::model::Backoff;
use crate::config::model::events::{AsyncMode, AsyncSpec};
use crate::config::raw::{RawAsync, RawRoute};
use crate::template::{Scope, StringTemplate};

/// Defaults: 10 attempts, backoff 100 ms doubling to 30 s, results kept 1 h.
const DEFAULT_MAX_ATTEMPTS: u32 = 10;
const DEFAULT_BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(100),
    max: Duration::from_secs(30),
};
const DEFAULT_RESULT_TTL: Duration = Duration::from_secs(3600);

pub(super) fn compile_async(
    raw: &RawRoute,
    context: &RouteContext<'_>,
    diag: &mut Diagnostics,
) -> Option<Arc<AsyncSpec>> {
    let spanned = raw.async_route.as_ref()?;
    let section: &RawAsync = spanned;
    let label = context.label;
    let mode = match section.mode.as_ref().map(|m| m.as_str()) {
        None | Some("always") => AsyncMode::Always,
        Some("on_request") => AsyncMode::OnRequest,
        Some(other) => {
            if let Some(text) = &section.mode {
                diag.error(
                    text.span(),
                    format!(
                        "{label}: async.mode: unknown mode {other:?}; expected always or on_request"
                    ),
                );
            }
            AsyncMode::Always
        }
    };
    let max_attempts = match &section.max_attempts {
        Some(n) if **n == 0 => {
            diag.error(
                n.span(),
                format!("{label}: async.max_attempts: must be at least 1"),
            );
            DEFAULT_MAX_ATTEMPTS
        }
        Some(n) => **n,
        None => DEFAULT_MAX_ATTEMPTS,
    };
    let backoff = backoff(section, label, diag);
    let result_ttl = positive_duration(
        section.result_ttl.as_ref(),
        &format!("{label}: async.result_ttl"),
        diag,
    )
    .unwrap_or(DEFAULT_RESULT_TTL);
    let order_key = section
        .order_key
        .as_ref()
        .and_then(|text| order_key(text, context, diag));
    Some(Arc::new(AsyncSpec {
        mode,
        order_key,
        backoff,
        max_attempts,
        result_ttl,
    }))
}

fn backoff(section: &RawAsync, label: &str, diag: &mut Diagnostics) -> Backoff {
    let Some(raw) = &section.backoff else {
        return DEFAULT_BACKOFF;
    };
    let what = |key: &str| format!("{label}: async.backoff.{key}");
    let base =
        positive_duration(raw.base.as_ref(), &what("base"), diag).unwrap_or(DEFAULT_BACKOFF.base);
    let max = positive_duration(raw.max.as_ref(), &what("max"), diag)
        .unwrap_or(DEFAULT_BACKOFF.max.max(base));
    if max < base
        && let Some(text) = &raw.max
    {
        diag.error(
            text.span(),
            format!("{}: must not be below backoff.base", what("max")),
        );
    }
    Backoff {
        base,
        max: max.max(base),
    }
}

/// `body` is the request body (call index 0); the other names are path
/// parameters.
struct OrderKeyScope<'a> {
    params: Vec<&'a str>,
}

impl Scope for OrderKeyScope<'_> {
    fn call_index(&self, name: &str) -> Option<usize> {
        (name == "body").then_some(0)
    }

    fn has_param(&self, name: &str) -> bool {
        self.params.contains(&name)
    }
}

fn order_key(
    text: &crate::config::raw::Text,
    context: &RouteContext<'_>,
    diag: &mut Diagnostics,
) -> Option<StringTemplate> {
    let label = context.label;
    let mut template = StringTemplate::parse(text)
        .map_err(|e| diag.error(text.span(), format!("{label}: async.order_key: {e}")))
        .ok()?;
    let scope = OrderKeyScope {
        params: context
            .pattern
            .map(|p| p.param_names().collect())
            .unwrap_or_default(),
    };
    for expr in template.exprs_mut() {
        if let Err(message) = expr.resolve(&scope) {
            diag.error(text.span(), format!("{label}: async.order_key: {message}"));
            return None;
        }
    }
    Some(template)
}
