//! The listener's rustls `ServerConfig` from `server.tls`: TLS 1.3 and
//! 1.2, rustls's default cipher suites and session handling, ALPN `h2`
//! then `http/1.1`, an SNI resolver over the certificates, and, with
//! `client_auth`, a WebPKI client verifier over the configured CA.

use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};

use super::sni::SniResolver;
use super::{SERVER_ALPN, TlsError, provider};
use crate::config::model::tls::ServerTls;

/// Builds the listener's config. `previous` (the running one) lends its
/// session cache and ticketer, so resumption survives a rotation.
pub fn server_config(
    spec: &ServerTls,
    previous: Option<&ServerConfig>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let mut keys = Vec::with_capacity(spec.certificates.len());
    for certificate in &spec.certificates {
        let identity = &certificate.identity;
        let key = CertifiedKey::from_der(identity.chain.clone(), identity.key.der(), &provider)
            .map_err(|source| TlsError::Certificate {
                path: identity.cert_path.display().to_string(),
                source,
            })?;
        keys.push((Arc::new(key), certificate.server_names.clone()));
    }
    let default = keys
        .get(spec.default_certificate)
        .or_else(|| keys.first())
        .map(|(key, _)| Arc::clone(key))
        .ok_or(TlsError::Settings(rustls::Error::General(
            "no certificate".to_owned(),
        )))?;
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = match &spec.client_auth {
        None => builder.with_no_client_auth(),
        Some(auth) => {
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(auth.ca.certificates.iter().cloned());
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if auth.required {
                verifier.build()?
            } else {
                verifier.allow_unauthenticated().build()?
            };
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(SniResolver::new(keys, default)));
    config.alpn_protocols = SERVER_ALPN.iter().map(|p| p.to_vec()).collect();
    if let Some(previous) = previous {
        config.session_storage = Arc::clone(&previous.session_storage);
        config.ticketer = Arc::clone(&previous.ticketer);
    }
    Ok(Arc::new(config))
}
