//! TLS settings as plain data: the listener's certificates (with the
//! names SNI picks them by), client-certificate verification, the
//! plain-HTTP redirect listener, and a backend's upstream TLS. The PEM
//! files are read and checked when the config compiles; what is kept is
//! their paths and DER bytes, never a rustls object (the runtime builds
//! those with the snapshot, `crate::tls`).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// `server.tls:` the main listener speaks TLS.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerTls {
    /// In file order; at least one.
    pub certificates: Vec<CertificateSpec>,
    /// Index into `certificates` of the one served when SNI matches no
    /// name (or the client sent none).
    pub default_certificate: usize,
    /// Client certificates checked against a CA (mTLS).
    pub client_auth: Option<ClientAuth>,
    /// A plain-HTTP listener that redirects to HTTPS.
    pub http_redirect: Option<HttpRedirect>,
    /// How clients may resume a session without a full handshake.
    pub resumption: Resumption,
    /// `Strict-Transport-Security` on every response over TLS.
    pub hsts: Option<Hsts>,
}

/// `server.tls.hsts:` HTTP Strict Transport Security (RFC 6797): browsers
/// that saw it use only HTTPS for the host for `max_age`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hsts {
    /// Written in whole seconds.
    pub max_age: Duration,
    pub include_subdomains: bool,
    /// Asks to be listed in the browsers' preload list (which requires
    /// `includeSubDomains` and a max-age of at least a year).
    pub preload: bool,
}

impl Hsts {
    /// One year: the default, and the least the preload list accepts.
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(365 * 24 * 3600);

    /// The header's value: `max-age=31536000; includeSubDomains; preload`.
    pub fn header_text(&self) -> String {
        let mut text = format!("max-age={}", self.max_age.as_secs());
        if self.include_subdomains {
            text.push_str("; includeSubDomains");
        }
        if self.preload {
            text.push_str("; preload");
        }
        text
    }
}

/// TLS session resumption: `server.tls.session_tickets` and
/// `server.tls.session_cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resumption {
    /// Stateless tickets (rustls's ticketer: random keys, rotated every
    /// 6 hours, each ticket valid for 12), as nginx and Envoy issue by
    /// default. TLS 1.3 resumes through them; so does a TLS 1.2 client
    /// that asks for one.
    pub tickets: bool,
    /// Sessions kept in memory for resumption by id: TLS 1.2 clients
    /// without tickets, and TLS 1.3 when tickets are off. 0: none.
    pub cache_sessions: usize,
}

impl Resumption {
    /// rustls's default cache size.
    pub const DEFAULT_CACHE_SESSIONS: usize = 256;
    /// The largest cache: a session holds its secrets and the client's
    /// certificate chain, up to a few KB with mTLS.
    pub const MAX_CACHE_SESSIONS: usize = 100_000;
}

impl Default for Resumption {
    fn default() -> Self {
        Self {
            tickets: true,
            cache_sessions: Self::DEFAULT_CACHE_SESSIONS,
        }
    }
}

impl ServerTls {
    /// Every file the settings were read from (watched for changes).
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for certificate in &self.certificates {
            files.push(certificate.identity.cert_path.clone());
            files.push(certificate.identity.key_path.clone());
        }
        if let Some(auth) = &self.client_auth {
            files.push(auth.ca.path.clone());
        }
        files
    }
}

/// One served certificate and the names it is served for.
#[derive(Debug, Clone, PartialEq)]
pub struct CertificateSpec {
    pub identity: Identity,
    /// Lower-case DNS names, exact (`api.example.com`) or one leading
    /// wildcard label (`*.example.com`): `server_names:`, else the
    /// certificate's own DNS names.
    pub server_names: Vec<String>,
}

/// A certificate chain and its private key, as read from two PEM files.
#[derive(Clone, PartialEq)]
pub struct Identity {
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    pub key: SecretKey,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .field("chain_len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// A private key's DER bytes: compared by value, never printed.
#[derive(Clone)]
pub struct SecretKey(pub Arc<PrivateKeyDer<'static>>);

impl SecretKey {
    pub fn der(&self) -> PrivateKeyDer<'static> {
        self.0.clone_key()
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.secret_der() == other.0.secret_der()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// CA certificates read from one PEM file.
#[derive(Debug, Clone, PartialEq)]
pub struct CaBundle {
    pub path: PathBuf,
    pub certificates: Vec<CertificateDer<'static>>,
}

/// `server.tls.client_auth:` (mTLS).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientAuth {
    pub ca: CaBundle,
    /// `required`: a client without a valid certificate fails the
    /// handshake; `optional`: one without any is let in, a bad one is not.
    pub required: bool,
}

/// `server.tls.http_redirect:`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpRedirect {
    pub listen: SocketAddr,
    /// The port in the `Location`; `None`: the TLS listener's own port
    /// (left out of the URL when it is 443).
    pub https_port: Option<u16>,
}

/// `backends.<name>.tls:` for `https://` URLs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BackendTls {
    /// Trusted roots; `None`: the system's trust store.
    pub ca: Option<CaBundle>,
    /// The SNI name (and the name the certificate must carry); `None`:
    /// each URL's host.
    pub server_name: Option<String>,
    /// A client certificate presented to the backend.
    pub client_certificate: Option<Identity>,
}

impl BackendTls {
    /// Every file the settings were read from (watched for changes).
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self.ca.iter().map(|ca| ca.path.clone()).collect();
        if let Some(identity) = &self.client_certificate {
            files.push(identity.cert_path.clone());
            files.push(identity.key_path.clone());
        }
        files
    }
}
