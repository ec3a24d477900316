//! The compiled `auth:` and `cors:` settings: plain data. JWT providers and
//! API-key sets are defined once (`auth:`), and routes refer to them by
//! name; the runtime key sets (fetched JWKS, decoding keys) are built from
//! these specs with the snapshot (`crate::auth`), never here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};

use super::BackendSpec;

/// A route's security policies: who may call it (`auth`) and which
/// browser origins may (`cors`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteSecurity {
    pub auth: Option<Arc<RouteAuth>>,
    pub cors: Option<Arc<CorsPolicy>>,
}

/// The top-level `auth:` section.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthSettings {
    pub jwt_providers: BTreeMap<String, Arc<JwtProviderSpec>>,
    pub api_keys: BTreeMap<String, Arc<ApiKeySet>>,
}

impl AuthSettings {
    /// Every header any JWT provider fills from claims (`forward_claims`),
    /// once each, in name order: reserved for the gateway, so removed from
    /// the client's request on every route (a backend reached by an
    /// authenticated route and an open one cannot be fooled through the
    /// open one).
    pub fn claim_headers(&self) -> Vec<HeaderName> {
        let mut names: Vec<HeaderName> = self
            .jwt_providers
            .values()
            .flat_map(|provider| provider.forward_claims.iter().map(|(_, header)| header))
            .cloned()
            .collect();
        names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        names.dedup();
        names
    }
}

/// A JWT algorithm the gateway may accept (`none` is not one).
pub use jsonwebtoken::Algorithm as JwtAlgorithm;

/// One `auth.jwt_providers.<name>` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtProviderSpec {
    pub name: String,
    /// Accepted `iss` values; empty: not checked.
    pub issuers: Vec<String>,
    /// Accepted `aud` values (one must match); empty: not checked.
    pub audiences: Vec<String>,
    /// The allowlist; a token whose `alg` is not in it is refused.
    pub algorithms: Vec<JwtAlgorithm>,
    pub keys: KeySource,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// Where the token is read from, in this order.
    pub token_from: TokenSources,
    /// Claims sent to the backend as request headers (claim name, header);
    /// the same headers are removed from the client's request first.
    pub forward_claims: Vec<(String, HeaderName)>,
    /// The claim that names the consumer (for logs and rate limits).
    pub consumer_claim: Option<String>,
}

/// Where a provider's verification keys come from.
#[derive(Debug, Clone, PartialEq)]
pub enum KeySource {
    /// A JWKS document fetched through a backend's upstream pool.
    Jwks(JwksEndpoint),
    /// A JWKS document read from a file when the config was loaded.
    JwksDocument(Arc<str>),
    /// One public key in PEM (SPKI or PKCS#1).
    Pem(Arc<str>),
    /// An HMAC secret (HS256/384/512).
    Secret(SecretBytes),
}

/// An HMAC secret's bytes; `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(pub Arc<[u8]>);

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

/// `jwks: { backend, path, ... }`
#[derive(Debug, Clone, PartialEq)]
pub struct JwksEndpoint {
    pub backend: Arc<BackendSpec>,
    /// Path and query on the backend, e.g. `/.well-known/jwks.json`.
    pub path: String,
    /// How often the set is fetched again in the background.
    pub refresh_interval: Duration,
    /// The floor: never fetched more often than this, whatever the
    /// tokens' `kid`s say.
    pub min_refresh_interval: Duration,
}

/// `token_from:`
#[derive(Debug, Clone, PartialEq)]
pub struct TokenSources {
    /// `Authorization: Bearer <token>`.
    pub bearer: bool,
    /// Headers holding the token itself (a `Bearer ` prefix is allowed).
    pub headers: Vec<HeaderName>,
    pub cookies: Vec<String>,
}

impl Default for TokenSources {
    fn default() -> Self {
        Self {
            bearer: true,
            headers: Vec::new(),
            cookies: Vec::new(),
        }
    }
}

/// One `auth.api_keys.<name>` set.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeySet {
    pub name: String,
    /// The header carrying the key, if any.
    pub header: Option<HeaderName>,
    /// The query parameter carrying the key, if any; removed from the
    /// query before the request goes upstream.
    pub query: Option<String>,
    pub keys: Vec<ApiKeyEntry>,
}

/// One key: its SHA-256 and who it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyEntry {
    pub sha256: [u8; 32],
    pub consumer: Arc<str>,
    pub scopes: Vec<Arc<str>>,
}

/// A route's `auth:`.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteAuth {
    /// The JWT providers accepted on the route.
    pub jwt: Vec<Arc<JwtProviderSpec>>,
    /// The API-key set accepted on the route.
    pub api_keys: Option<Arc<ApiKeySet>>,
    /// A request without any credential passes (without a principal);
    /// a bad credential is still refused.
    pub optional: bool,
    /// Scopes the principal must hold (all of them).
    pub scopes: Vec<String>,
    /// Claims the JWT must carry: the claim equals one of the values, or
    /// (an array claim) contains one.
    pub claims: Vec<(String, Vec<String>)>,
}

impl RouteAuth {
    /// Every header a provider of this route fills from claims: removed
    /// from the client's request whatever credential it carries.
    pub fn claim_headers(&self) -> impl Iterator<Item = &HeaderName> {
        self.jwt
            .iter()
            .flat_map(|provider| provider.forward_claims.iter().map(|(_, header)| header))
    }
}

/// `cors:` (global or a route's).
#[derive(Debug, Clone, PartialEq)]
pub struct CorsPolicy {
    pub origins: CorsOrigins,
    /// Methods a preflight may ask for; empty: the route's methods, else
    /// GET, HEAD, POST.
    pub methods: Vec<Method>,
    /// Request headers a preflight may ask for.
    pub headers: Vec<HeaderName>,
    /// Headers the browser's script may read on the response.
    pub expose_headers: Vec<HeaderName>,
    pub credentials: bool,
    pub max_age: Option<Duration>,
}

/// Which origins may call.
#[derive(Debug, Clone, PartialEq)]
pub enum CorsOrigins {
    /// `*` (refused together with `credentials: true`).
    Any,
    /// Exact origins and `*` patterns (`https://*.example.com`), each
    /// matched case-insensitively against the whole `Origin`.
    List {
        exact: Vec<HeaderValue>,
        patterns: Vec<OriginPattern>,
    },
}

/// An origin with one `*` standing for one or more DNS labels' characters
/// (never `/` or `:`): `https://*.example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    pub prefix: String,
    pub suffix: String,
}

impl OriginPattern {
    /// Whether `origin` (as sent by a browser) matches.
    pub fn matches(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        origin.len() > self.prefix.len() + self.suffix.len()
            && origin.starts_with(&self.prefix)
            && origin.ends_with(&self.suffix)
            && origin[self.prefix.len()..origin.len() - self.suffix.len()]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    }
}

/// The response headers a gRPC-Web client must read, exposed by default on
/// gRPC-Web routes.
pub const GRPC_WEB_EXPOSED: [&str; 3] = ["grpc-status", "grpc-message", "grpc-status-details-bin"];
