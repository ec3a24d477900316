//! The listener's rustls `ServerConfig` from `server.tls`: TLS 1.3 and
//! 1.2, rustls's default cipher suites, session resumption by ticket and
//! by id (`session_tickets`, `session_cache`), ALPN `h2` then `http/1.1`,
//! an SNI resolver over the certificates, and, with `client_auth`, a
//! WebPKI client verifier over the configured CA.
//!
//! A new config (a reload, a rotated certificate) keeps the running one's
//! ticket keys and session cache only when a resumed session would be
//! worth the same under it: the same client-certificate settings and the
//! same names served. rustls resumes a session without asking who the
//! client is again, so a cache shared across a change of `client_auth`
//! would let a session made without a certificate (or with one from a
//! CA since removed) in where a certificate is now required.

use std::sync::Arc;

use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};

use super::sni::SniResolver;
use super::{SERVER_ALPN, TlsError, provider};
use crate::config::model::tls::{Resumption, ServerTls};

/// Builds the listener's config. `previous` (the running settings and
/// config) lends its ticket keys and session cache when
/// [`may_share_sessions`] allows, so resumption survives a rotation.
pub fn server_config(
    spec: &ServerTls,
    previous: Option<(&ServerTls, &ServerConfig)>,
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
    match previous {
        Some((settings, running)) if may_share_sessions(settings, spec) => {
            config.session_storage = Arc::clone(&running.session_storage);
            config.ticketer = Arc::clone(&running.ticketer);
        }
        _ => set_resumption(&mut config, spec.resumption)?,
    }
    Ok(Arc::new(config))
}

/// Fresh resumption state: a ticketer with new random keys, and an empty
/// cache of `cache_sessions` (rustls's own defaults are no tickets and
/// 256 sessions).
fn set_resumption(config: &mut ServerConfig, resumption: Resumption) -> Result<(), TlsError> {
    if resumption.tickets {
        config.ticketer = rustls::crypto::ring::Ticketer::new()?;
    }
    config.session_storage = match resumption.cache_sessions {
        0 => Arc::new(NoServerSessionStorage {}),
        sessions => ServerSessionMemoryCache::new(sessions),
    };
    Ok(())
}

/// Whether a session made under `previous` may be resumed under `next`:
/// the same resumption settings, the same client-certificate settings
/// (CA bytes and mode), and the same names served by the same
/// certificates in the same order (a renewed certificate or key for the
/// same names keeps sessions; a removed or added name does not).
pub fn may_share_sessions(previous: &ServerTls, next: &ServerTls) -> bool {
    let names = |tls: &ServerTls| {
        tls.certificates
            .iter()
            .map(|certificate| certificate.server_names.clone())
            .collect::<Vec<_>>()
    };
    previous.resumption == next.resumption
        && previous.client_auth == next.client_auth
        && previous.default_certificate == next.default_certificate
        && names(previous) == names(next)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    use super::*;
    use crate::config::model::tls::{CaBundle, CertificateSpec, ClientAuth, Identity, SecretKey};

    fn certificate(names: &[&str], key_byte: u8) -> CertificateSpec {
        CertificateSpec {
            identity: Identity {
                cert_path: PathBuf::from("site.pem"),
                key_path: PathBuf::from("site.key"),
                chain: vec![CertificateDer::from(vec![key_byte])],
                key: SecretKey(Arc::new(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                    vec![key_byte],
                )))),
            },
            server_names: names.iter().map(|name| (*name).to_owned()).collect(),
        }
    }

    fn client_auth(ca_byte: u8, required: bool) -> ClientAuth {
        ClientAuth {
            ca: CaBundle {
                path: PathBuf::from("clients-ca.pem"),
                certificates: vec![CertificateDer::from(vec![ca_byte])],
            },
            required,
        }
    }

    fn settings() -> ServerTls {
        ServerTls {
            certificates: vec![
                certificate(&["site.test"], 1),
                certificate(&["shop.test"], 2),
            ],
            default_certificate: 0,
            client_auth: None,
            http_redirect: None,
            resumption: Resumption::default(),
            hsts: None,
        }
    }

    #[test]
    fn a_renewed_certificate_for_the_same_names_keeps_sessions() {
        let mut renewed = settings();
        renewed.certificates[0] = certificate(&["site.test"], 9);
        assert!(may_share_sessions(&settings(), &renewed));
        assert!(may_share_sessions(&settings(), &settings()));
    }

    /// rustls resumes without asking for a client certificate again: any
    /// change of `client_auth` starts with fresh ticket keys and cache.
    #[test]
    fn any_change_of_client_certificate_settings_starts_afresh() {
        let mut required = settings();
        required.client_auth = Some(client_auth(1, true));
        let mut optional = settings();
        optional.client_auth = Some(client_auth(1, false));
        let mut other_ca = settings();
        other_ca.client_auth = Some(client_auth(2, true));
        for (before, after) in [
            (&settings(), &required),
            (&optional, &required),
            (&required, &optional),
            (&required, &other_ca),
            (&required, &settings()),
        ] {
            assert!(!may_share_sessions(before, after), "{after:?}");
        }
        assert!(may_share_sessions(&required, &required.clone()));
    }

    #[test]
    fn other_names_or_resumption_settings_start_afresh() {
        let mut fewer = settings();
        fewer.certificates.pop();
        let mut renamed = settings();
        renamed.certificates[1] = certificate(&["store.test"], 2);
        let mut other_default = settings();
        other_default.default_certificate = 1;
        let mut no_tickets = settings();
        no_tickets.resumption.tickets = false;
        let mut smaller_cache = settings();
        smaller_cache.resumption.cache_sessions = 16;
        for changed in [fewer, renamed, other_default, no_tickets, smaller_cache] {
            assert!(!may_share_sessions(&settings(), &changed), "{changed:?}");
        }
    }
}
