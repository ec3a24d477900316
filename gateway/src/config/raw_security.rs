//! Raw serde types of the `auth:` and `cors:` sections and of a route's
//! `auth:` and `cors:` keys. Compiled in `compile/auth.rs` and
//! `compile/cors.rs`.

use marked_yaml::Spanned;
use serde::Deserialize;

use super::raw::{OrderedPairs, Text};

/// `auth:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuth {
    #[serde(default)]
    pub jwt_providers: OrderedPairs<Text, Spanned<RawJwtProvider>>,
    #[serde(default)]
    pub api_keys: OrderedPairs<Text, Spanned<RawApiKeySet>>,
}

/// `auth.jwt_providers.<name>`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawJwtProvider {
    pub issuer: Option<OneOrMany>,
    pub audiences: Option<OneOrMany>,
    pub algorithms: Option<Spanned<Vec<Text>>>,
    pub jwks: Option<Spanned<RawJwks>>,
    pub jwks_file: Option<Text>,
    pub key_pem: Option<Text>,
    pub key_pem_file: Option<Text>,
    pub secret: Option<Spanned<RawSecret>>,
    pub leeway: Option<Text>,
    pub token_from: Option<Spanned<RawTokenFrom>>,
    #[serde(default)]
    pub forward_claims: OrderedPairs<Text, Text>,
    pub consumer_claim: Option<Text>,
}

/// A string or a list of strings (positioned as a whole: serde's
/// untagged enums cannot carry the positions of their items).
pub(crate) type OneOrMany = Spanned<Strings>;

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Strings {
    One(String),
    Many(Vec<String>),
}

impl Strings {
    pub fn items(&self) -> Vec<&str> {
        match self {
            Strings::One(one) => vec![one.as_str()],
            Strings::Many(many) => many.iter().map(String::as_str).collect(),
        }
    }
}

/// `jwks:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawJwks {
    pub backend: Text,
    pub path: Text,
    pub refresh_interval: Option<Text>,
    pub min_refresh_interval: Option<Text>,
}

/// `secret:` exactly one of the three.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSecret {
    pub value: Option<Text>,
    pub env: Option<Text>,
    pub file: Option<Text>,
    /// The value is base64 (standard or URL-safe alphabet).
    pub base64: Option<bool>,
}

/// `token_from:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTokenFrom {
    pub bearer: Option<bool>,
    #[serde(default)]
    pub headers: Vec<Text>,
    #[serde(default)]
    pub cookies: Vec<Text>,
}

/// `auth.api_keys.<name>`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApiKeySet {
    pub header: Option<Text>,
    pub query: Option<Text>,
    #[serde(default)]
    pub keys: Vec<RawApiKey>,
    pub keys_file: Option<Text>,
}

/// One API key entry (in routes.yaml or in a `keys_file`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApiKey {
    pub consumer: Text,
    pub sha256: Text,
    #[serde(default)]
    pub scopes: Vec<Text>,
}

/// A route's `auth:` (and `graphql.auth:`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRouteAuth {
    pub jwt: Option<OneOrMany>,
    pub api_keys: Option<Text>,
    pub optional: Option<bool>,
    #[serde(default)]
    pub scopes: Vec<Text>,
    #[serde(default)]
    pub claims: OrderedPairs<Text, OneOrMany>,
}

/// `cors:` (top level, a route's, `graphql.cors:`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCors {
    pub allow_origins: Spanned<Vec<Text>>,
    pub allow_methods: Option<Vec<Text>>,
    pub allow_headers: Option<Vec<Text>>,
    pub expose_headers: Option<Vec<Text>>,
    pub allow_credentials: Option<Spanned<bool>>,
    pub max_age: Option<Text>,
}
