//! A route's `auth:` (or `graphql.auth:`): the providers and key set it
//! accepts, resolved by name against `auth:`, plus its required scopes and
//! claims.

use std::sync::Arc;

use marked_yaml::Span;

use super::super::super::errors::{Diagnostics, did_you_mean};
use super::super::super::model::security::{AuthSettings, RouteAuth};
use super::super::super::raw_security::RawRouteAuth;

/// `None` when absent or wrong (the errors are recorded).
pub(in crate::config::compile) fn compile_route_auth(
    raw: Option<&RawRouteAuth>,
    (settings, declared): (&AuthSettings, &std::collections::BTreeSet<&str>),
    label: &str,
    route_span: &Span,
    diag: &mut Diagnostics,
) -> Option<Arc<RouteAuth>> {
    let raw = raw?;
    let before = diag.error_count();
    let mut jwt = Vec::new();
    if let Some(list) = &raw.jwt {
        for name in list.items() {
            match settings.jwt_providers.get(name) {
                Some(provider) => jwt.push(Arc::clone(provider)),
                None if declared.contains(name) => {}
                None => diag.error(
                    list.span(),
                    format!(
                        "{label}: auth.jwt: unknown provider \"{name}\"{}; providers are defined under auth.jwt_providers",
                        did_you_mean(name, settings.jwt_providers.keys().map(String::as_str))
                    ),
                ),
            }
        }
    }
    let api_keys = raw.api_keys.as_ref().and_then(|name| {
        let found = settings.api_keys.get(name.as_str()).cloned();
        if found.is_none() && !declared.contains(name.as_str()) {
            diag.error(
                name.span(),
                format!(
                    "{label}: auth.api_keys: unknown key set \"{}\"{}; sets are defined under auth.api_keys",
                    name.as_str(),
                    did_you_mean(name.as_str(), settings.api_keys.keys().map(String::as_str))
                ),
            );
        }
        found
    });
    if raw.jwt.is_none() && raw.api_keys.is_none() {
        diag.error(
            route_span,
            format!(
                "{label}: auth: name a credential: `jwt` (providers) and/or `api_keys` (a key set)"
            ),
        );
    }
    let claims = raw
        .claims
        .0
        .iter()
        .map(|(claim, values)| {
            let values = values.items().into_iter().map(str::to_owned);
            (claim.as_str().to_owned(), values.collect())
        })
        .collect();
    if diag.error_count() > before {
        return None;
    }
    Some(Arc::new(RouteAuth {
        jwt,
        api_keys,
        optional: raw.optional.unwrap_or(false),
        scopes: raw.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        claims,
    }))
}
