//! The rustls `ClientConfig` of a backend's `https://` URLs: its
//! configured CA, else the system's trust store ([`super::system_roots`]);
//! its client certificate, if any; ALPN `h2` for `protocol: h2`,
//! `http/1.1` otherwise. SNI is each URL's
//! host unless `tls.server_name` overrides it (the pool's connector).

use std::sync::Arc;

use hyper_rustls::{
    DefaultServerNameResolver, FixedServerNameResolver, HttpsConnector, ResolveServerName,
};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};

use super::{provider, system_roots};
use crate::config::model::tls::BackendTls;
use crate::config::model::{BackendSpec, UpstreamProtocol};

/// The client config for `backend`'s `https://` URLs, offering `h2` by
/// ALPN for `protocol: h2`, else `http/1.1`.
pub fn client_config(backend: &BackendSpec) -> ClientConfig {
    let alpn: &[u8] = if backend.protocol == UpstreamProtocol::H2 {
        b"h2"
    } else {
        b"http/1.1"
    };
    let roots = match &backend.tls.ca {
        Some(_) => None,
        None if system_roots::uses_system_roots(backend) => Some(system_roots(&backend.name)),
        // Cleartext URLs only: no handshake ever reads this config.
        None => Some(Arc::new(RootCertStore::empty())),
    };
    tls_client_config(&backend.tls, roots, alpn, &backend.name)
}

/// A client config from `tls:` settings (a backend's, the trace
/// exporter's): its `ca`, else `roots`; its client certificate; `alpn`
/// offered. `who` names the client in logs.
pub fn tls_client_config(
    tls: &BackendTls,
    roots: Option<Arc<RootCertStore>>,
    alpn: &[u8],
    who: &str,
) -> ClientConfig {
    let roots = match &tls.ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(ca.certificates.iter().cloned());
            Arc::new(roots)
        }
        None => roots.unwrap_or_else(|| Arc::new(RootCertStore::empty())),
    };
    let mut config = with_identity(tls, roots, who);
    config.alpn_protocols = vec![alpn.to_vec()];
    config
}

fn with_identity(tls: &BackendTls, roots: Arc<RootCertStore>, who: &str) -> ClientConfig {
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
        tracing::error!(%error, client = who, cert = %identity.cert_path.display(), "the client certificate cannot be used; connecting without one");
        builder.with_no_client_auth()
    })
}

/// A connector for `http://` and `https://` URLs over `tcp`, with
/// `config` for TLS; SNI (and the name the certificate must carry) is
/// `server_name` when set, else each URL's host.
pub fn https_connector(
    tcp: HttpConnector,
    config: Arc<ClientConfig>,
    server_name: Option<&str>,
) -> HttpsConnector<HttpConnector> {
    let names: Arc<dyn ResolveServerName + Send + Sync> =
        match server_name.and_then(|name| ServerName::try_from(name.to_owned()).ok()) {
            Some(name) => Arc::new(FixedServerNameResolver::new(name)),
            None => Arc::new(DefaultServerNameResolver::default()),
        };
    HttpsConnector::new(tcp, config, false, names)
}

/// The system's trust store. The snapshot checked it could be read for
/// its backends (`system_roots::check_config`); a subgraph's `https://`
/// URL (from the supergraph) may find it unreadable here, and then every
/// handshake fails (a 502-class error for the client, this log for the
/// operator).
fn system_roots(backend: &str) -> Arc<RootCertStore> {
    system_roots::load().unwrap_or_else(|error| {
        tracing::error!(%error, backend, "no trusted roots for this https backend: its handshakes will fail");
        Arc::new(RootCertStore::empty())
    })
}
