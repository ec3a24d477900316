//! A JWT provider's key source: exactly one of `jwks` (fetched through a
//! backend), `jwks_file`, `key_pem`, `key_pem_file` or `secret`, checked
//! here so a config that compiles can build its decoding keys.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{AlgorithmFamily, DecodingKey};
use marked_yaml::{Span, Spanned};

use super::super::super::errors::{Diagnostics, did_you_mean};
use super::super::super::model::security::{JwksEndpoint, KeySource, SecretBytes};
use super::super::super::raw::Text;
use super::super::super::raw_security::{RawJwks, RawJwtProvider, RawSecret};
use super::super::positive_duration;
use super::ProviderInputs;

const SOURCES: &str = "jwks, jwks_file, key_pem, key_pem_file, secret";
const DEFAULT_REFRESH: Duration = Duration::from_secs(300);
const DEFAULT_MIN_REFRESH: Duration = Duration::from_secs(30);
/// RFC 7518 §3.2: an HMAC key at least as long as the hash (HS256).
const MIN_SECRET_BYTES: usize = 32;

/// The provider's one key source.
pub(super) fn key_source(
    raw: &Spanned<RawJwtProvider>,
    inputs: &ProviderInputs<'_>,
    diag: &mut Diagnostics,
) -> Option<KeySource> {
    let label = inputs.label;
    let declared: Vec<(&str, &Span)> = [
        raw.jwks.as_ref().map(|j| ("jwks", j.span())),
        raw.jwks_file.as_ref().map(|t| ("jwks_file", t.span())),
        raw.key_pem.as_ref().map(|t| ("key_pem", t.span())),
        raw.key_pem_file
            .as_ref()
            .map(|t| ("key_pem_file", t.span())),
        raw.secret.as_ref().map(|s| ("secret", s.span())),
    ]
    .into_iter()
    .flatten()
    .collect();
    match declared.as_slice() {
        [] => {
            diag.error(
                raw.span(),
                format!("{label}: needs a key source: one of {SOURCES}"),
            );
            return None;
        }
        [_] => {}
        [(first, _), (second, span), ..] => {
            diag.error(
                span,
                format!("{label}: set only one key source ({first} and {second} are both set)"),
            );
            return None;
        }
    }
    if let Some(jwks) = &raw.jwks {
        return jwks_endpoint(jwks, inputs, diag).map(KeySource::Jwks);
    }
    if let Some(file) = &raw.jwks_file {
        let text = read(file, inputs.base_dir, &format!("{label}: jwks_file"), diag)?;
        return check_jwks(&text, file, label, diag).then(|| KeySource::JwksDocument(text.into()));
    }
    if let Some(pem) = &raw.key_pem {
        return pem_key(pem.as_str(), pem, label, diag);
    }
    if let Some(file) = &raw.key_pem_file {
        let text = read(
            file,
            inputs.base_dir,
            &format!("{label}: key_pem_file"),
            diag,
        )?;
        return pem_key(&text, file, label, diag);
    }
    let secret = raw.secret.as_ref()?;
    secret_bytes(secret, inputs.base_dir, label, diag).map(KeySource::Secret)
}

/// The family a key source fixes, when it fixes one (a JWKS may mix).
pub(super) fn family_of(keys: &KeySource) -> Option<AlgorithmFamily> {
    match keys {
        KeySource::Secret(_) => Some(AlgorithmFamily::Hmac),
        KeySource::Pem(pem) => pem_family(pem),
        KeySource::Jwks(_) | KeySource::JwksDocument(_) => None,
    }
}

/// Which family a public key in PEM belongs to, if it parses.
pub(crate) fn pem_family(pem: &str) -> Option<AlgorithmFamily> {
    let bytes = pem.as_bytes();
    if DecodingKey::from_rsa_pem(bytes).is_ok() {
        Some(AlgorithmFamily::Rsa)
    } else if DecodingKey::from_ec_pem(bytes).is_ok() {
        Some(AlgorithmFamily::Ec)
    } else if DecodingKey::from_ed_pem(bytes).is_ok() {
        Some(AlgorithmFamily::Ed)
    } else {
        None
    }
}

fn jwks_endpoint(
    raw: &Spanned<RawJwks>,
    inputs: &ProviderInputs<'_>,
    diag: &mut Diagnostics,
) -> Option<JwksEndpoint> {
    let label = inputs.label;
    let backend = match inputs.backends.get(raw.backend.as_str()) {
        Some(backend) => Some(Arc::clone(backend)),
        None => {
            let known = inputs.backends.keys().map(String::as_str);
            diag.error(
                raw.backend.span(),
                format!(
                    "{label}: jwks.backend: unknown backend \"{}\"{}",
                    raw.backend.as_str(),
                    did_you_mean(raw.backend.as_str(), known)
                ),
            );
            None
        }
    };
    if !raw.path.starts_with('/') {
        diag.error(
            raw.path.span(),
            format!("{label}: jwks.path: must start with `/` (a path on the backend)"),
        );
    }
    let refresh = positive_duration(
        raw.refresh_interval.as_ref(),
        &format!("{label}: jwks.refresh_interval"),
        diag,
    )
    .unwrap_or(DEFAULT_REFRESH);
    let floor = positive_duration(
        raw.min_refresh_interval.as_ref(),
        &format!("{label}: jwks.min_refresh_interval"),
        diag,
    )
    .unwrap_or(DEFAULT_MIN_REFRESH.min(refresh));
    if floor > refresh {
        if let Some(text) = &raw.min_refresh_interval {
            diag.error(
                text.span(),
                format!("{label}: jwks.min_refresh_interval: must not exceed refresh_interval"),
            );
        }
    }
    Some(JwksEndpoint {
        backend: backend?,
        path: raw.path.as_str().to_owned(),
        refresh_interval: refresh,
        min_refresh_interval: floor,
    })
}

fn read(file: &Text, base_dir: &Path, what: &str, diag: &mut Diagnostics) -> Option<String> {
    let path = base_dir.join(file.as_str());
    std::fs::read_to_string(&path)
        .map_err(|error| {
            diag.error(
                file.span(),
                format!("{what}: cannot read {}: {error}", path.display()),
            )
        })
        .ok()
}

/// A JWKS document with at least one key the gateway can use.
fn check_jwks(text: &str, at: &Text, label: &str, diag: &mut Diagnostics) -> bool {
    let set: JwkSet = match serde_json::from_str(text) {
        Ok(set) => set,
        Err(error) => {
            diag.error(
                at.span(),
                format!("{label}: jwks_file: not a JWKS document ({error})"),
            );
            return false;
        }
    };
    let usable = set
        .keys
        .iter()
        .filter(|jwk| DecodingKey::from_jwk(jwk).is_ok())
        .count();
    if usable == 0 {
        diag.error(
            at.span(),
            format!("{label}: jwks_file: holds no usable key (RSA, EC or OKP)"),
        );
    }
    usable > 0
}

fn pem_key(pem: &str, at: &Text, label: &str, diag: &mut Diagnostics) -> Option<KeySource> {
    if pem_family(pem).is_none() {
        diag.error(
            at.span(),
            format!("{label}: not a PEM public key (RSA, EC P-256/P-384 or Ed25519)"),
        );
        return None;
    }
    Some(KeySource::Pem(pem.into()))
}

fn secret_bytes(
    raw: &Spanned<RawSecret>,
    base_dir: &Path,
    label: &str,
    diag: &mut Diagnostics,
) -> Option<SecretBytes> {
    let text = match (&raw.value, &raw.env, &raw.file) {
        (Some(value), None, None) => value.as_str().to_owned(),
        (None, Some(name), None) => match std::env::var(name.as_str()) {
            Ok(value) => value,
            Err(_) => {
                diag.error(
                    name.span(),
                    format!(
                        "{label}: secret.env: the environment variable {} is not set",
                        name.as_str()
                    ),
                );
                return None;
            }
        },
        (None, None, Some(file)) => read(file, base_dir, &format!("{label}: secret.file"), diag)?
            .trim_end()
            .to_owned(),
        _ => {
            diag.error(
                raw.span(),
                format!("{label}: secret: set exactly one of value, env, file"),
            );
            return None;
        }
    };
    let bytes = if raw.base64.unwrap_or(false) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.trim()));
        match decoded {
            Ok(bytes) => bytes,
            Err(_) => {
                diag.error(raw.span(), format!("{label}: secret: not valid base64"));
                return None;
            }
        }
    } else {
        text.into_bytes()
    };
    if bytes.len() < MIN_SECRET_BYTES {
        diag.error(
            raw.span(),
            format!(
                "{label}: secret: {} bytes is too short for HMAC; use at least {MIN_SECRET_BYTES}",
                bytes.len()
            ),
        );
        return None;
    }
    Some(SecretBytes(bytes.into()))
}
