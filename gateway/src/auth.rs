//! Authentication: JWT providers and API keys, as the route policy layer
//! in slot 2 of [`crate::pipeline::policy_layers`].
//!
//! - [`AuthRuntime`] holds every JWT provider's runtime keys, built with
//!   the snapshot from `auth.jwt_providers` (`provider`, `keyset`, `jwks`:
//!   static keys, or a JWKS fetched through a backend's pool and refreshed
//!   in the background and on unknown `kid`s, with a floor). A reload
//!   carries a provider's keys over while its spec and pool are unchanged.
//! - [`RouteAuthenticator`] is one route's `auth:` with its providers
//!   resolved; [`layer::AuthLayer`] runs it for each request: claim headers
//!   (every provider's) stripped from the client's input (on a route
//!   without `auth:`, [`StripClaimHeadersLayer`] does only that), the
//!   credential read (`credentials`)
//!   and verified, the route's scopes and claims checked (`principal`), the
//!   [`Principal`](crate::context::Principal) put in the request's
//!   extensions and the consumer on the access-log record.
//! - [`AuthFailure`] becomes a 401/400/403 with an RFC 6750 challenge
//!   (`failure`).

pub mod api_keys;
pub mod credentials;
mod failure;
pub mod jwks;
pub mod keyset;
mod layer;
pub mod principal;
pub mod provider;

pub use failure::AuthFailure;
pub use layer::{AuthLayer, AuthService, StripClaimHeadersLayer};
pub use provider::JwtProvider;

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use http::{HeaderName, Request};

use crate::body::GatewayBody;
use crate::config::model::security::{JwtProviderSpec, RouteAuth};
use crate::config::model::{GatewayConfig, RouteAction, RouteSpec};
use crate::context::Principal;
use crate::upstream::Upstreams;

/// Every JWT provider of the config, at run time.
#[derive(Debug, Default)]
pub struct AuthRuntime {
    providers: BTreeMap<String, Arc<JwtProvider>>,
    /// Every provider's claim headers: removed from every client request.
    claim_headers: Arc<[HeaderName]>,
}

impl AuthRuntime {
    /// Builds the providers, carrying over `previous`'s unchanged ones
    /// (same spec: the provider itself; same JWKS endpoint and pool: its
    /// fetched keys).
    pub fn build(
        config: &GatewayConfig,
        upstreams: &mut Upstreams,
        previous: Option<&AuthRuntime>,
    ) -> Result<Self, String> {
        let mut providers = BTreeMap::new();
        for (name, spec) in &config.auth.jwt_providers {
            let before = previous.and_then(|p| p.providers.get(name));
            let provider = Arc::new(JwtProvider::build(spec, upstreams, before.map(|p| &**p))?);
            providers.insert(name.clone(), provider);
        }
        Ok(Self {
            providers,
            claim_headers: config.auth.claim_headers().into(),
        })
    }

    /// For a route without `auth:`, the layer that still removes the
    /// claim headers from the client's request (`None` when no provider
    /// forwards claims).
    pub fn claim_header_stripper(&self) -> Option<StripClaimHeadersLayer> {
        (!self.claim_headers.is_empty())
            .then(|| StripClaimHeadersLayer::new(Arc::clone(&self.claim_headers)))
    }

    /// The route's authenticator, when it has `auth:`.
    pub fn for_route(&self, route: &RouteSpec) -> Option<Arc<RouteAuthenticator>> {
        let auth = route.security.auth.as_ref()?;
        let providers = auth
            .jwt
            .iter()
            .filter_map(|spec| self.providers.get(&spec.name).cloned())
            .collect();
        Some(Arc::new(RouteAuthenticator {
            auth: Arc::clone(auth),
            providers,
            claim_headers: Arc::clone(&self.claim_headers),
            action: route.action.clone(),
        }))
    }
}

/// One route's `auth:` with its providers resolved.
#[derive(Debug)]
pub struct RouteAuthenticator {
    pub auth: Arc<RouteAuth>,
    providers: Vec<Arc<JwtProvider>>,
    /// Every provider's claim headers (not only this route's): removed
    /// from the client's request before the credential is read.
    claim_headers: Arc<[HeaderName]>,
    /// The route's action, for the error's wire form.
    action: RouteAction,
}

/// Who a request's credential proved it is.
pub struct Verified {
    pub principal: Principal,
    /// The provider, when the credential was a JWT.
    pub provider: Option<Arc<JwtProviderSpec>>,
}

impl RouteAuthenticator {
    /// Reads and verifies the request's credential. `Ok(None)`: it had
    /// none. The API key's query parameter is removed from the target.
    pub async fn authenticate(
        &self,
        request: &mut Request<GatewayBody>,
    ) -> Result<Option<Verified>, AuthFailure> {
        let mut found_token = false;
        for provider in &self.providers {
            let Some(token) =
                credentials::find_token(request.headers(), &provider.spec.token_from)?
            else {
                continue;
            };
            found_token = true;
            if self.providers.len() > 1 && !issued_by(&token, &provider.spec) {
                continue;
            }
            let claims = provider.verify(&token).await?;
            return Ok(Some(Verified {
                principal: principal::from_claims(claims, &provider.spec),
                provider: Some(Arc::clone(&provider.spec)),
            }));
        }
        if found_token {
            return Err(AuthFailure::InvalidToken(
                "the token's issuer is not accepted",
            ));
        }
        let Some(set) = &self.auth.api_keys else {
            return Ok(None);
        };
        let key = credentials::find_api_key(request.headers(), request.uri(), set);
        if let Some(query) = &set.query {
            let stripped = credentials::strip_query_param(request.uri(), query);
            *request.uri_mut() = stripped;
        }
        let Some(key) = key else {
            return Ok(None);
        };
        let entry = api_keys::lookup(set, &key).ok_or(AuthFailure::InvalidApiKey)?;
        Ok(Some(Verified {
            principal: api_keys::principal(entry),
            provider: None,
        }))
    }

    /// Whether a missing credential is answered with a Bearer challenge.
    fn wants_bearer(&self) -> bool {
        !self.providers.is_empty()
    }
}

/// Whether the token's (unverified) `iss` is one the provider accepts; a
/// provider that checks no issuer takes any token. Only picks the
/// provider: the chosen one verifies everything.
fn issued_by(token: &str, provider: &JwtProviderSpec) -> bool {
    if provider.issuers.is_empty() {
        return true;
    }
    let payload = token.split('.').nth(1).unwrap_or_default();
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload) else {
        return false;
    };
    #[derive(serde::Deserialize)]
    struct Issuer {
        iss: Option<String>,
    }
    serde_json::from_slice::<Issuer>(&bytes)
        .ok()
        .and_then(|claims| claims.iss)
        .is_some_and(|iss| provider.issuers.contains(&iss))
}
