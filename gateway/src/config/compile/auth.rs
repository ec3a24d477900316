//! `auth:` → [`AuthSettings`]: JWT providers (algorithm allowlist, key
//! source, claims, token sources) and API-key sets (`auth/api_keys.rs`);
//! a route's `auth:` → [`RouteAuth`] (`auth/route.rs`). Every mistake is
//! recorded at its position; key material is checked here (a PEM that does
//! not parse, a JWKS file without a usable key, a short HMAC secret), so a
//! config that compiles builds its key sets.

mod api_keys;
mod keys;
mod route;

pub(super) use route::compile_route_auth;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use marked_yaml::{Span, Spanned};

use super::super::errors::Diagnostics;
use super::super::model::security::{
    AuthSettings, JwtAlgorithm, JwtProviderSpec, KeySource, TokenSources,
};
use super::super::model::{BackendSpec, is_managed};
use super::super::raw::Text;
use super::super::raw_security::{RawAuth, RawJwtProvider, RawTokenFrom};
use super::duration;

/// The allowlist when a provider names none: every asymmetric algorithm
/// its keys may use (HMAC only with a `secret`, and then only HS*).
const ASYMMETRIC: &[JwtAlgorithm] = &[
    JwtAlgorithm::RS256,
    JwtAlgorithm::RS384,
    JwtAlgorithm::RS512,
    JwtAlgorithm::PS256,
    JwtAlgorithm::PS384,
    JwtAlgorithm::PS512,
    JwtAlgorithm::ES256,
    JwtAlgorithm::ES384,
    JwtAlgorithm::EdDSA,
];

/// The names `algorithms:` accepts, for messages.
const ALGORITHM_NAMES: &str =
    "RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA, HS256, HS384, HS512";

const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// Compiles `auth:`; providers and sets with errors are left out.
pub(super) fn compile_auth(
    raw: Option<&RawAuth>,
    backends: &BTreeMap<String, Arc<BackendSpec>>,
    base_dir: &Path,
    diag: &mut Diagnostics,
) -> AuthSettings {
    let Some(raw) = raw else {
        return AuthSettings::default();
    };
    let mut settings = AuthSettings::default();
    for (name, provider) in &raw.jwt_providers.0 {
        let label = format!("auth.jwt_providers.{}", name.as_str());
        let inputs = ProviderInputs {
            label: &label,
            backends,
            base_dir,
        };
        if let Some(spec) = compile_provider(name, provider, &inputs, diag) {
            settings
                .jwt_providers
                .insert(name.as_str().to_owned(), Arc::new(spec));
        }
    }
    for (name, set) in &raw.api_keys.0 {
        if let Some(set) = api_keys::compile_set(name, set, base_dir, diag) {
            settings
                .api_keys
                .insert(name.as_str().to_owned(), Arc::new(set));
        }
    }
    settings
}

/// What a provider's compilation reads besides its own keys.
pub(super) struct ProviderInputs<'a> {
    pub label: &'a str,
    pub backends: &'a BTreeMap<String, Arc<BackendSpec>>,
    pub base_dir: &'a Path,
}

fn compile_provider(
    name: &Text,
    raw: &Spanned<RawJwtProvider>,
    inputs: &ProviderInputs<'_>,
    diag: &mut Diagnostics,
) -> Option<JwtProviderSpec> {
    let label = inputs.label;
    let before = diag.error_count();
    let listed = algorithms(raw.algorithms.as_ref(), label, diag);
    let keys = keys::key_source(raw, inputs, diag);
    let algorithms = keys
        .as_ref()
        .and_then(|keys| allowed_algorithms(listed, keys, label, diag));
    let leeway = duration(raw.leeway.as_ref(), &format!("{label}: leeway"), diag);
    let forward_claims = forward_claims(raw, label, diag);
    let token_from = token_sources(raw.token_from.as_ref(), label, diag);
    let strings = |list: &Option<super::super::raw_security::OneOrMany>| -> Vec<String> {
        list.as_ref()
            .map(|l| l.items().into_iter().map(str::to_owned).collect())
            .unwrap_or_default()
    };
    if diag.error_count() > before {
        return None;
    }
    Some(JwtProviderSpec {
        name: name.as_str().to_owned(),
        issuers: strings(&raw.issuer),
        audiences: strings(&raw.audiences),
        algorithms: algorithms?,
        keys: keys?,
        leeway: leeway.unwrap_or(DEFAULT_LEEWAY),
        token_from,
        forward_claims,
        consumer_claim: raw.consumer_claim.as_ref().map(|c| c.as_str().to_owned()),
    })
}

/// `algorithms:` as written; `None` when absent. `none` and unknown names
/// are errors.
fn algorithms(
    raw: Option<&Spanned<Vec<Text>>>,
    label: &str,
    diag: &mut Diagnostics,
) -> Option<Vec<(JwtAlgorithm, Span)>> {
    let raw = raw?;
    if raw.is_empty() {
        diag.error(
            raw.span(),
            format!("{label}: algorithms: list at least one"),
        );
        return None;
    }
    let mut parsed = Vec::new();
    for text in raw.iter() {
        match parse_algorithm(text) {
            Ok(algorithm) => parsed.push((algorithm, *text.span())),
            Err(message) => diag.error(text.span(), format!("{label}: algorithms: {message}")),
        }
    }
    Some(parsed)
}

/// One algorithm name; `none` is refused whatever its case.
pub(crate) fn parse_algorithm(text: &str) -> Result<JwtAlgorithm, String> {
    if text.trim().eq_ignore_ascii_case("none") {
        return Err(
            "\"none\" is never accepted: an unsigned token proves nothing about its sender"
                .to_owned(),
        );
    }
    text.trim()
        .parse::<JwtAlgorithm>()
        .map_err(|_| format!("unknown algorithm \"{text}\"; expected one of: {ALGORITHM_NAMES}"))
}

/// The allowlist, checked against the key source: HMAC algorithms need a
/// secret and a secret allows only them; a PEM key allows its family.
fn allowed_algorithms(
    listed: Option<Vec<(JwtAlgorithm, Span)>>,
    keys: &KeySource,
    label: &str,
    diag: &mut Diagnostics,
) -> Option<Vec<JwtAlgorithm>> {
    let family = keys::family_of(keys);
    let Some(listed) = listed else {
        return Some(match family {
            Some(family) => family.algorithms().to_vec(),
            None => ASYMMETRIC.to_vec(),
        });
    };
    let mut ok = true;
    for (algorithm, span) in &listed {
        let fits = match family {
            Some(family) => algorithm.family() == family,
            None => {
                *algorithm != JwtAlgorithm::HS256
                    && *algorithm != JwtAlgorithm::HS384
                    && *algorithm != JwtAlgorithm::HS512
            }
        };
        if !fits {
            ok = false;
            let message = match family {
                Some(jsonwebtoken::AlgorithmFamily::Hmac) => {
                    format!(
                        "{label}: algorithms: {algorithm:?} does not fit a `secret` (HS256, HS384, HS512 only)"
                    )
                }
                Some(_) => {
                    format!("{label}: algorithms: {algorithm:?} does not fit the key's type")
                }
                None => format!(
                    "{label}: algorithms: {algorithm:?} needs a `secret` (an HMAC key), not public keys"
                ),
            };
            diag.error(span, message);
        }
    }
    ok.then(|| listed.into_iter().map(|(a, _)| a).collect())
}

fn forward_claims(
    raw: &RawJwtProvider,
    label: &str,
    diag: &mut Diagnostics,
) -> Vec<(String, HeaderName)> {
    let mut out = Vec::new();
    for (claim, header) in &raw.forward_claims.0 {
        match HeaderName::from_bytes(header.trim().as_bytes()) {
            Ok(name) if is_managed(&name) || name == http::header::AUTHORIZATION => {
                diag.error(
                    header.span(),
                    format!("{label}: forward_claims: \"{name}\" is a header the gateway manages"),
                );
            }
            Ok(name) => out.push((claim.as_str().to_owned(), name)),
            Err(_) => diag.error(
                header.span(),
                format!(
                    "{label}: forward_claims: \"{}\" is not a header name",
                    header.as_str()
                ),
            ),
        }
    }
    out
}

fn token_sources(
    raw: Option<&Spanned<RawTokenFrom>>,
    label: &str,
    diag: &mut Diagnostics,
) -> TokenSources {
    let Some(raw) = raw else {
        return TokenSources::default();
    };
    let mut headers = Vec::new();
    for text in &raw.headers {
        match HeaderName::from_bytes(text.trim().as_bytes()) {
            Ok(name) => headers.push(name),
            Err(_) => diag.error(
                text.span(),
                format!(
                    "{label}: token_from.headers: \"{}\" is not a header name",
                    text.as_str()
                ),
            ),
        }
    }
    let cookies: Vec<String> = raw.cookies.iter().map(|c| c.trim().to_owned()).collect();
    let sources = TokenSources {
        bearer: raw
            .bearer
            .unwrap_or(headers.is_empty() && cookies.is_empty()),
        headers,
        cookies,
    };
    if !sources.bearer && sources.headers.is_empty() && sources.cookies.is_empty() {
        diag.error(
            raw.span(),
            format!(
                "{label}: token_from: with `bearer: false`, name at least one header or cookie"
            ),
        );
    }
    sources
}
