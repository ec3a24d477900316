//! `cors:` (top level: every route's default; a route's or `graphql.cors`:
//! that route's own) → [`CorsPolicy`]. Combinations browsers refuse
//! (credentials with a `*` origin, header or method) are errors here.

use std::sync::Arc;

use http::{HeaderName, HeaderValue, Method};
use marked_yaml::Span;

use super::super::errors::Diagnostics;
use super::super::model::security::{CorsOrigins, CorsPolicy, OriginPattern};
use super::super::raw::Text;
use super::super::raw_security::RawCors;
use super::duration;

pub(super) fn compile_cors(
    raw: Option<&RawCors>,
    label: &str,
    diag: &mut Diagnostics,
) -> Option<Arc<CorsPolicy>> {
    let raw = raw?;
    let before = diag.error_count();
    let origins = origins(&raw.allow_origins, raw.allow_origins.span(), label, diag);
    let methods = list(
        raw.allow_methods.as_deref(),
        label,
        "allow_methods",
        diag,
        |t| {
            Method::from_bytes(t.trim().as_bytes())
                .ok()
                .filter(|_| t.trim() != "*")
        },
    );
    let headers = list(
        raw.allow_headers.as_deref(),
        label,
        "allow_headers",
        diag,
        header,
    );
    let expose_headers = list(
        raw.expose_headers.as_deref(),
        label,
        "expose_headers",
        diag,
        header,
    );
    let credentials = raw.allow_credentials.as_ref().is_some_and(|c| **c);
    if let Some(flag) = raw.allow_credentials.as_ref().filter(|c| ***c) {
        let wildcard = matches!(origins, Some(CorsOrigins::Any))
            || raw_has_star(raw.allow_headers.as_deref())
            || raw_has_star(raw.expose_headers.as_deref());
        if wildcard {
            diag.error(
                flag.span(),
                format!("{label}: cors: allow_credentials: true cannot be combined with `*` (origins, headers or exposed headers): browsers refuse it; list them"),
            );
        }
    }
    let max_age = duration(
        raw.max_age.as_ref(),
        &format!("{label}: cors.max_age"),
        diag,
    );
    if diag.error_count() > before {
        return None;
    }
    Some(Arc::new(CorsPolicy {
        origins: origins?,
        methods,
        headers,
        expose_headers,
        credentials,
        max_age,
    }))
}

fn raw_has_star(list: Option<&[Text]>) -> bool {
    list.is_some_and(|list| list.iter().any(|t| t.trim() == "*"))
}

/// `*` (every header) is kept as the wildcard name `*`.
fn header(text: &Text) -> Option<HeaderName> {
    HeaderName::from_bytes(text.trim().to_ascii_lowercase().as_bytes()).ok()
}

fn list<T>(
    raw: Option<&[Text]>,
    label: &str,
    key: &str,
    diag: &mut Diagnostics,
    parse: impl Fn(&Text) -> Option<T>,
) -> Vec<T> {
    let mut out = Vec::new();
    for text in raw.unwrap_or_default() {
        match parse(text) {
            Some(value) => out.push(value),
            None => diag.error(
                text.span(),
                format!(
                    "{label}: cors.{key}: \"{}\" is not valid here",
                    text.as_str()
                ),
            ),
        }
    }
    out
}

fn origins(raw: &[Text], span: &Span, label: &str, diag: &mut Diagnostics) -> Option<CorsOrigins> {
    if raw.is_empty() {
        diag.error(
            span,
            format!("{label}: cors.allow_origins: list at least one origin (or \"*\")"),
        );
        return None;
    }
    if raw.iter().any(|t| t.trim() == "*") {
        if raw.len() > 1 {
            diag.error(
                span,
                format!("{label}: cors.allow_origins: \"*\" allows every origin; list nothing else with it"),
            );
        }
        return Some(CorsOrigins::Any);
    }
    let mut exact = Vec::new();
    let mut patterns = Vec::new();
    for text in raw {
        match origin(text.trim()) {
            Ok(Origin::Exact(value)) => exact.push(value),
            Ok(Origin::Pattern(pattern)) => patterns.push(pattern),
            Err(message) => diag.error(
                text.span(),
                format!(
                    "{label}: cors.allow_origins: \"{}\" {message}",
                    text.as_str()
                ),
            ),
        }
    }
    Some(CorsOrigins::List { exact, patterns })
}

enum Origin {
    Exact(HeaderValue),
    Pattern(OriginPattern),
}

/// `scheme://host[:port]`, or `scheme://*.domain[:port]`.
fn origin(text: &str) -> Result<Origin, &'static str> {
    let lower = text.to_ascii_lowercase();
    let Some((scheme, rest)) = lower.split_once("://") else {
        return Err("is not an origin (scheme://host[:port])");
    };
    let valid_scheme = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !valid_scheme || rest.is_empty() || rest.contains('/') {
        return Err("is not an origin (scheme://host[:port], no path)");
    }
    match rest.matches('*').count() {
        0 => HeaderValue::from_str(&lower)
            .map(Origin::Exact)
            .map_err(|_| "is not an origin"),
        1 if rest.starts_with("*.") && rest.len() > 2 => Ok(Origin::Pattern(OriginPattern {
            prefix: format!("{scheme}://"),
            suffix: rest[1..].to_owned(),
        })),
        _ => Err("may hold one `*`, as the first label of the host (https://*.example.com)"),
    }
}
