//! [`JwtProvider`]: one `auth.jwt_providers` entry at run time (its spec,
//! its keys, its `jsonwebtoken` validation) and [`JwtProvider::verify`]:
//! header → allowlist → key (by `kid`, refreshing a remote set on an
//! unknown one) → signature and claims (`exp`, `nbf` with leeway, `iss`,
//! `aud`). The library's error is logged; the client reads a fixed
//! sentence.

use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Map, Value};

use super::failure::AuthFailure;
use super::jwks::RemoteKeys;
use super::keyset::KeySet;
use crate::config::model::security::{JwtProviderSpec, KeySource};
use crate::upstream::Upstreams;

/// The longest token read (bytes): a larger one is refused unparsed.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Keys tried for a token that names no `kid` (each costs a signature
/// check).
const MAX_CANDIDATES: usize = 4;

/// A verified token's claims.
pub type Claims = Map<String, Value>;

/// Where a provider's keys are at run time.
#[derive(Debug, Clone)]
enum ProviderKeys {
    Static(Arc<KeySet>),
    Remote(Arc<RemoteKeys>),
}

/// One JWT provider, built with the snapshot.
#[derive(Debug)]
pub struct JwtProvider {
    pub spec: Arc<JwtProviderSpec>,
    keys: ProviderKeys,
    /// One validation per allowed algorithm (`jsonwebtoken` refuses a
    /// validation whose algorithms span families).
    validations: Vec<(jsonwebtoken::Algorithm, Validation)>,
}

impl JwtProvider {
    /// Builds the provider, reusing `previous`'s keys (a fetched JWKS and
    /// its refresh task) when its spec and pool are unchanged.
    pub fn build(
        spec: &Arc<JwtProviderSpec>,
        upstreams: &mut Upstreams,
        previous: Option<&JwtProvider>,
    ) -> Result<Self, String> {
        let keys = match &spec.keys {
            KeySource::Jwks(endpoint) => {
                let pool = upstreams.pool_for(&endpoint.backend);
                let reusable = previous.and_then(|p| match &p.keys {
                    ProviderKeys::Remote(remote)
                        if remote.endpoint == *endpoint && Arc::ptr_eq(&remote.pool, &pool) =>
                    {
                        Some(Arc::clone(remote))
                    }
                    _ => None,
                });
                ProviderKeys::Remote(
                    reusable
                        .unwrap_or_else(|| RemoteKeys::start(&spec.name, endpoint.clone(), pool)),
                )
            }
            KeySource::JwksDocument(text) => ProviderKeys::Static(Arc::new(
                KeySet::from_jwks(text.as_bytes()).ok_or("the JWKS file is not a JWKS")?,
            )),
            KeySource::Pem(pem) => ProviderKeys::Static(Arc::new(KeySet::single(pem_key(pem)?))),
            KeySource::Secret(secret) => ProviderKeys::Static(Arc::new(KeySet::single(
                DecodingKey::from_secret(&secret.0),
            ))),
        };
        Ok(Self {
            validations: spec
                .algorithms
                .iter()
                .map(|alg| (*alg, validation(spec, *alg)))
                .collect(),
            spec: Arc::clone(spec),
            keys,
        })
    }

    /// Verifies `token` and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthFailure> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthFailure::InvalidToken("the token is too large"));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| {
            self.refuse(
                &e,
                "the token is malformed (or its algorithm is not accepted)",
            )
        })?;
        // RFC 7515 §4.1.11: a token naming extensions the recipient must
        // understand is invalid unless it does; this gateway supports none
        // (`jsonwebtoken` parses `crit` and checks nothing).
        if header.crit.is_some() {
            return Err(AuthFailure::InvalidToken(
                "the token names critical header extensions (crit), which are not supported",
            ));
        }
        let Some((_, validation)) = self.validations.iter().find(|(alg, _)| *alg == header.alg)
        else {
            return Err(AuthFailure::InvalidToken(
                "the token's algorithm is not accepted",
            ));
        };
        let kid = header.kid.as_deref();
        let mut keys = self.current_keys();
        if let ProviderKeys::Remote(remote) = &self.keys {
            let unknown = keys.is_empty() || kid.is_some_and(|kid| !keys.has_kid(kid));
            if unknown && keys.candidates(header.alg, kid).next().is_none() {
                keys = remote.refresh_for_unknown_kid().await;
            }
        }
        let mut last = AuthFailure::InvalidToken("no key of this provider verifies the token");
        for key in keys.candidates(header.alg, kid).take(MAX_CANDIDATES) {
            match jsonwebtoken::decode::<Claims>(token, key, validation) {
                Ok(data) => return Ok(data.claims),
                Err(error) if matches!(error.kind(), ErrorKind::InvalidSignature) => {
                    last = self.refuse(&error, "the token's signature does not verify");
                }
                Err(error) => return Err(self.refuse(&error, message(error.kind()))),
            }
        }
        Err(last)
    }

    fn current_keys(&self) -> Arc<KeySet> {
        match &self.keys {
            ProviderKeys::Static(keys) => Arc::clone(keys),
            ProviderKeys::Remote(remote) => remote.current(),
        }
    }

    fn refuse(&self, error: &jsonwebtoken::errors::Error, why: &'static str) -> AuthFailure {
        tracing::debug!(provider = %self.spec.name, error = %error, "JWT refused");
        AuthFailure::InvalidToken(why)
    }
}

fn pem_key(pem: &str) -> Result<DecodingKey, String> {
    let bytes = pem.as_bytes();
    DecodingKey::from_rsa_pem(bytes)
        .or_else(|_| DecodingKey::from_ec_pem(bytes))
        .or_else(|_| DecodingKey::from_ed_pem(bytes))
        .map_err(|e| format!("the PEM key does not parse: {e}"))
}

fn validation(spec: &JwtProviderSpec, alg: jsonwebtoken::Algorithm) -> Validation {
    let mut validation = Validation::new(alg);
    validation.leeway = spec.leeway.as_secs();
    validation.validate_exp = true;
    validation.validate_nbf = true;
    let mut required = vec!["exp"];
    if !spec.issuers.is_empty() {
        validation.set_issuer(&spec.issuers);
        required.push("iss");
    }
    if spec.audiences.is_empty() {
        validation.validate_aud = false;
    } else {
        validation.set_audience(&spec.audiences);
        required.push("aud");
    }
    validation.set_required_spec_claims(&required);
    validation
}

/// The client's sentence for a refused token.
fn message(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired",
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)",
        ErrorKind::InvalidIssuer => "the token's issuer is not accepted",
        ErrorKind::InvalidAudience => "the token's audience is not accepted",
        ErrorKind::InvalidSignature => "the token's signature does not verify",
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "exp" => "the token has no expiry (exp)",
            "iss" => "the token has no issuer (iss)",
            "aud" => "the token has no audience (aud)",
            _ => "the token lacks a required claim",
        },
        ErrorKind::InvalidAlgorithm => "the token's algorithm is not accepted",
        _ => "the token is malformed",
    }
}
