//! Raw serde types of the TLS keys: `server.tls` and `backends.*.tls`.
//! Paths stay strings here; `compile/tls` reads and checks the files.

use marked_yaml::Spanned;
use serde::Deserialize;

use super::raw::Text;

/// `server.tls:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServerTls {
    pub certificates: Spanned<Vec<RawCertificate>>,
    pub client_auth: Option<RawClientAuth>,
    pub http_redirect: Option<RawHttpRedirect>,
    pub session_tickets: Option<Spanned<bool>>,
    pub session_cache: Option<Spanned<u64>>,
    pub hsts: Option<Spanned<RawHsts>>,
}

/// `server.tls.hsts:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHsts {
    pub max_age: Option<Text>,
    pub include_subdomains: Option<Spanned<bool>>,
    pub preload: Option<Spanned<bool>>,
}

/// One entry of `server.tls.certificates:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCertificate {
    pub cert: Text,
    pub key: Text,
    pub server_names: Option<Vec<Text>>,
    pub default: Option<Spanned<bool>>,
}

/// `server.tls.client_auth:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClientAuth {
    pub ca: Text,
    pub mode: Option<Spanned<RawClientAuthMode>>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawClientAuthMode {
    Required,
    Optional,
}

/// `server.tls.http_redirect:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttpRedirect {
    pub listen: Text,
    pub https_port: Option<Spanned<u16>>,
}

/// `backends.<name>.tls:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBackendTls {
    pub ca: Option<Text>,
    pub server_name: Option<Text>,
    pub cert: Option<Text>,
    pub key: Option<Text>,
}
