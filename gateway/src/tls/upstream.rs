//! The rustls `ClientConfig` of a backend's `https://` URLs: its
//! configured CA, else the system's trust store (read once per process);
//! its client certificate, if any; ALPN `h2` for `protocol: h2`,
//! `http/1.1` otherwise. SNI is each URL's
//! host unless `tls.server_name` overrides it (the pool's connector).

use std::sync::{Arc, OnceLock};

use rustls::{ClientConfig, RootCertStore};

use super::provider;
use crate::config::model::tls::BackendTls;

/// The client config for one backend's TLS settings, offering `h2` by
/// ALPN when `http2`, else `http/1.1`.
pub fn client_config(tls: &BackendTls, http2: bool) -> ClientConfig {
    let mut config = without_alpn(tls);
    config.alpn_protocols = vec![if http2 {
        b"h2".to_vec()
    } else {
        b"http/1.1".to_vec()
    }];
    config
}

fn without_alpn(tls: &BackendTls) -> ClientConfig {
    let roots = match &tls.ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(ca.certificates.iter().cloned());
            Arc::new(roots)
        }
        None => system_roots(),
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map(|builder| builder.with_root_certificates(roots));
    let builder = match builder {
        Ok(builder) => builder,
        // ring supports the default versions; this cannot happen.
        Err(error) => {
            tracing::error!(%error, "cannot build an upstream TLS config");
            return ClientConfig::builder()
                .with_root_certificates(RootCertStore::empty())
                .with_no_client_auth();
        }
    };
    let Some(identity) = &tls.client_certificate else {
        return builder.with_no_client_auth();
    };
    let with_cert = builder
        .clone()
        .with_client_auth_cert(identity.chain.clone(), identity.key.der());
    with_cert.unwrap_or_else(|error| {
        // The config checked the pair, so this is not expected.
        tracing::error!(%error, cert = %identity.cert_path.display(), "the backend client certificate cannot be used; connecting without one");
        builder.with_no_client_auth()
    })
}

/// The system's trust store, loaded on first use.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    Arc::clone(ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        for error in &loaded.errors {
            tracing::warn!(%error, "while reading the system's trusted certificates");
        }
        let mut roots = RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(loaded.certs);
        tracing::debug!(
            added,
            ignored,
            "system trust store loaded for https backends"
        );
        Arc::new(roots)
    }))
}
