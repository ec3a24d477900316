//! From verified JWT claims to the request's [`Principal`] (subject,
//! consumer, scopes from `scope` (space-separated) or `scp` (a list or a
//! string), claims), the route's requirements on it (scopes, claim
//! values), and the claim headers sent to the backend.

use std::sync::Arc;

use http::{HeaderMap, HeaderValue};
use serde_json::Value;

use super::failure::AuthFailure;
use super::provider::Claims;
use crate::config::model::security::{JwtProviderSpec, RouteAuth};
use crate::context::Principal;

/// The principal a verified token stands for.
pub fn from_claims(claims: Claims, provider: &JwtProviderSpec) -> Principal {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(Arc::from);
    Principal {
        subject: text("sub"),
        consumer: provider.consumer_claim.as_deref().and_then(text),
        scopes: scopes(&claims).into(),
        claims: Arc::new(claims),
    }
}

fn scopes(claims: &Claims) -> Vec<Arc<str>> {
    let words = |text: &str| text.split_whitespace().map(Arc::from).collect::<Vec<_>>();
    let mut out = Vec::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(text)) => out.extend(words(text)),
            Some(Value::Array(items)) => {
                out.extend(items.iter().filter_map(Value::as_str).map(Arc::from))
            }
            _ => {}
        }
    }
    out
}

/// The route's scopes and claim requirements.
pub fn check(principal: &Principal, auth: &RouteAuth) -> Result<(), AuthFailure> {
    if !principal.has_scopes(auth.scopes.iter().map(String::as_str)) {
        return Err(AuthFailure::InsufficientScope {
            required: auth.scopes.join(" "),
        });
    }
    for (claim, accepted) in &auth.claims {
        let fits = |value: &Value| match value {
            Value::String(text) => accepted.iter().any(|a| a == text),
            Value::Number(_) | Value::Bool(_) => accepted.iter().any(|a| *a == value.to_string()),
            _ => false,
        };
        let ok = match principal.claims.get(claim) {
            Some(Value::Array(items)) => items.iter().any(fits),
            Some(value) => fits(value),
            None => false,
        };
        if !ok {
            return Err(AuthFailure::ClaimMismatch(claim.clone()));
        }
    }
    Ok(())
}

/// Sets the provider's `forward_claims` headers from the principal's
/// claims (strings as they are, lists joined with `,`, other values as
/// JSON); a value that cannot be a header is left out and logged.
pub fn set_claim_headers(
    headers: &mut HeaderMap,
    principal: &Principal,
    provider: &JwtProviderSpec,
) {
    for (claim, header) in &provider.forward_claims {
        let Some(value) = principal.claims.get(claim) else {
            continue;
        };
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Array(items) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map_or_else(|| item.to_string(), str::to_owned)
                })
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        match HeaderValue::from_str(&text) {
            Ok(value) => {
                headers.insert(header.clone(), value);
            }
            Err(_) => {
                tracing::warn!(claim = %claim, header = %header, "claim value cannot be a header; not forwarded")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Claims {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn scopes_come_from_scope_and_scp() {
        let spaced = scopes(&claims(json!({"scope": "a b  c"})));
        assert_eq!(spaced.len(), 3);
        let listed = scopes(&claims(json!({"scp": ["x", "y"]})));
        assert_eq!(listed.iter().map(|s| &**s).collect::<Vec<_>>(), ["x", "y"]);
    }

    #[test]
    fn route_requirements_check_scopes_then_claims() {
        let principal = Principal {
            scopes: vec![Arc::from("orders:read")].into(),
            claims: Arc::new(claims(
                json!({"tenant": "acme", "roles": ["admin", "ops"], "level": 3}),
            )),
            ..Principal::default()
        };
        let auth = |scopes: &[&str], claims: &[(&str, &str)]| RouteAuth {
            jwt: Vec::new(),
            api_keys: None,
            optional: false,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            claims: claims
                .iter()
                .map(|(c, v)| (c.to_string(), vec![v.to_string()]))
                .collect(),
        };
        assert!(check(&principal, &auth(&["orders:read"], &[("tenant", "acme")])).is_ok());
        assert!(check(&principal, &auth(&[], &[("roles", "ops"), ("level", "3")])).is_ok());
        assert!(matches!(
            check(&principal, &auth(&["orders:write"], &[])),
            Err(AuthFailure::InsufficientScope { .. })
        ));
        assert!(matches!(
            check(&principal, &auth(&[], &[("tenant", "globex")])),
            Err(AuthFailure::ClaimMismatch(_))
        ));
    }
}
