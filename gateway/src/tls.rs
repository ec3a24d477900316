//! TLS runtime objects, built with the snapshot from the config's plain
//! data (`config::model::tls`): the listener's rustls `ServerConfig`
//! ([`server_config`]: TLS 1.2 and 1.3, ALPN `h2` and `http/1.1`,
//! certificates picked by SNI ([`sni`]), optional client-certificate
//! verification), the `ClientConfig` of `https://` backends
//! ([`upstream`]; the system's trust store in [`system_roots`]), and the plain-HTTP listener's redirect to HTTPS
//! ([`redirect`]). One crypto provider: ring.
//!
//! Rotation: the certificate files are part of the config (their bytes
//! are in its hash and they are watched with routes.yaml), so a changed
//! certificate is a reload: a good one gives the next snapshot a new
//! `ServerConfig` that the next handshakes use, while open connections
//! keep the session they have; a bad one is rejected with its line and
//! column and the running certificate keeps serving.

pub mod redirect;
mod server_config;
pub mod sni;
pub mod system_roots;
pub mod upstream;

pub use server_config::{may_share_sessions, server_config};

/// Why a TLS runtime object could not be built from a compiled config
/// (which already checked the files, so this is rare).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("certificate {path}: {source}")]
    Certificate { path: String, source: rustls::Error },
    #[error("client certificate verification: {0}")]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),
    #[error("TLS settings: {0}")]
    Settings(#[from] rustls::Error),
}

/// The ALPN protocols the listener offers, preferred first.
pub const SERVER_ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The one crypto provider.
pub fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}
