//! The `backend` action: resolve the backend, check the path rewrite.

use super::super::errors::{Diagnostics, did_you_mean};
use super::super::model::{PathRewrite, ProxyAction};
use super::super::raw::{RawRewrite, RawRoute, Text};
use super::routes::RouteContext;
use crate::router::PathPattern;

/// Compiles a proxy route: `backend:` plus an optional `rewrite:`.
pub(super) fn compile_proxy(
    raw: &RawRoute,
    backend: &Text,
    context: &RouteContext<'_>,
    diag: &mut Diagnostics,
) -> Option<ProxyAction> {
    let rewrite = match &raw.rewrite {
        None => Some(PathRewrite::None),
        Some(rewrite) => compile_rewrite(rewrite, rewrite.span(), context, diag),
    };
    let Some(spec) = context.backends.get(backend.as_str()) else {
        if context.declared_backends.contains(backend.as_str()) {
            return None; // declared but invalid: its own errors say why
        }
        let suggestion = did_you_mean(backend, context.declared_backends.iter().copied());
        diag.error(
            backend.span(),
            format!(
                "{} names unknown backend \"{}\"{suggestion}",
                context.label,
                backend.as_str()
            ),
        );
        return None;
    };
    Some(ProxyAction {
        backend: spec.clone(),
        rewrite: rewrite?,
        async_spec: super::async_route::compile_async(raw, context, diag),
    })
}

fn compile_rewrite(
    raw: &RawRewrite,
    span: &marked_yaml::Span,
    context: &RouteContext<'_>,
    diag: &mut Diagnostics,
) -> Option<PathRewrite> {
    let label = context.label;
    match (&raw.strip_prefix, &raw.template) {
        (Some(prefix), None) => strip_prefix(prefix, context, diag),
        (None, Some(template)) => template_rewrite(template, context, diag),
        (Some(_), Some(template)) => {
            diag.error(
                template.span(),
                format!("{label}: rewrite: set either strip_prefix or template, not both"),
            );
            None
        }
        (None, None) => {
            diag.error(
                span,
                format!("{label}: rewrite: set strip_prefix or template"),
            );
            None
        }
    }
}

/// The prefix must be a literal, whole-segment prefix of the route's path,
/// or it would never apply.
fn strip_prefix(
    prefix: &Text,
    context: &RouteContext<'_>,
    diag: &mut Diagnostics,
) -> Option<PathRewrite> {
    let problem = if !prefix.starts_with('/') {
        "must start with \"/\"".to_owned()
    } else if prefix.contains(['{', '}']) {
        "must be literal text, without parameters".to_owned()
    } else {
        let pattern = context.pattern?;
        match literal_prefix_problem(prefix, pattern) {
            None => return Some(PathRewrite::StripPrefix(prefix.to_string())),
            Some(problem) => problem,
        }
    };
    diag.error(
        prefix.span(),
        format!(
            "{}: rewrite.strip_prefix \"{}\" {problem}",
            context.label,
            prefix.as_str()
        ),
    );
    None
}

fn literal_prefix_problem(prefix: &str, pattern: &PathPattern) -> Option<String> {
    let path = pattern.as_str();
    let literal = pattern.static_prefix();
    let rest = literal.strip_prefix(prefix).map(|rest| rest.to_owned());
    let on_segment_boundary = match rest {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    };
    (!on_segment_boundary).then(|| format!("is not a whole-segment prefix of the path \"{path}\""))
}

/// Every `{name}` / `{*name}` in the template must be captured by the path.
fn template_rewrite(
    template: &Text,
    context: &RouteContext<'_>,
    diag: &mut Diagnostics,
) -> Option<PathRewrite> {
    let label = context.label;
    let placeholders = match template_placeholders(template) {
        Ok(placeholders) => placeholders,
        Err(problem) => {
            diag.error(
                template.span(),
                format!(
                    "{label}: rewrite.template \"{}\" {problem}",
                    template.as_str()
                ),
            );
            return None;
        }
    };
    let pattern = context.pattern?;
    let mut valid = true;
    for name in placeholders {
        if !pattern.param_names().any(|captured| captured == name) {
            let suggestion = did_you_mean(name, pattern.param_names());
            diag.error(
                template.span(),
                format!(
                    "{label}: rewrite.template \"{}\" uses parameter \"{name}\", which the path \"{}\" does not capture{suggestion}",
                    template.as_str(),
                    pattern.as_str()
                ),
            );
            valid = false;
        }
    }
    valid.then(|| PathRewrite::Template(template.to_string()))
}

/// The parameter names a template uses (`{*rest}` counts as `rest`).
pub(crate) fn template_placeholders(template: &str) -> Result<Vec<&str>, &'static str> {
    if !template.starts_with('/') {
        return Err("must start with \"/\"");
    }
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err("has a \"}\" without a matching \"{\"");
        }
        let close = rest[open..]
            .find('}')
            .ok_or("has a \"{\" without a matching \"}\"")?
            + open;
        let name = rest[open + 1..close].trim_start_matches('*');
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err("has an invalid parameter name between braces");
        }
        names.push(name);
        rest = &rest[close + 1..];
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_placeholders_are_found_in_order() {
        assert_eq!(
            template_placeholders("/v2/{id}/x/{*rest}"),
            Ok(vec!["id", "rest"])
        );
        assert_eq!(template_placeholders("/static"), Ok(vec![]));
    }

    #[test]
    fn malformed_templates_are_refused() {
        assert!(template_placeholders("v2/{id}").is_err());
        assert!(template_placeholders("/v2/{id").is_err());
        assert!(template_placeholders("/v2/id}").is_err());
        assert!(template_placeholders("/v2/{}").is_err());
        assert!(template_placeholders("/v2/{a-b}").is_err());
    }

    #[test]
    fn strip_prefix_must_end_on_a_segment_boundary() {
        let pattern = PathPattern::parse("/api/users/{*rest}").unwrap();
        assert_eq!(literal_prefix_problem("/api", &pattern), None);
        assert_eq!(literal_prefix_problem("/api/users", &pattern), None);
        assert_eq!(literal_prefix_problem("/api/users/", &pattern), None);
        assert!(literal_prefix_problem("/ap", &pattern).is_some());
        assert!(literal_prefix_problem("/other", &pattern).is_some());
    }
}
