//! Picking the listener's certificate by the name the client sent (SNI):
//! an exact name first, then a wildcard for its parent domain
//! (`*.example.com` serves `api.example.com`, not `a.b.example.com` nor
//! `example.com`), else the default certificate. A lookup is one or two
//! hash-map probes; the name is bounded by the TLS record (255 bytes).

use std::collections::HashMap;
use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The certificates of one listener config, by name.
#[derive(Debug)]
pub struct SniResolver {
    by_name: HashMap<String, Arc<CertifiedKey>>,
    default: Arc<CertifiedKey>,
}

impl SniResolver {
    /// `names`: each certificate with the lower-case names it serves.
    pub fn new(
        certificates: impl IntoIterator<Item = (Arc<CertifiedKey>, Vec<String>)>,
        default: Arc<CertifiedKey>,
    ) -> Self {
        let mut by_name = HashMap::new();
        for (key, names) in certificates {
            for name in names {
                by_name.entry(name).or_insert_with(|| Arc::clone(&key));
            }
        }
        Self { by_name, default }
    }

    /// The certificate for `server_name` (already lower-case, as rustls
    /// gives it), or the default.
    pub fn pick(&self, server_name: Option<&str>) -> &Arc<CertifiedKey> {
        let Some(name) = server_name else {
            return &self.default;
        };
        if let Some(key) = self.by_name.get(name) {
            return key;
        }
        name.split_once('.')
            .and_then(|(_, parent)| self.by_name.get(&format!("*.{parent}")))
            .unwrap_or(&self.default)
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(self.pick(client_hello.server_name())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(label: &str) -> Arc<CertifiedKey> {
        let generated = rcgen::generate_simple_self_signed(vec![label.to_owned()])
            .expect("generate a certificate");
        let der =
            rustls::pki_types::PrivateKeyDer::Pkcs8(generated.signing_key.serialize_der().into());
        let signing = rustls::crypto::ring::sign::any_supported_type(&der).expect("a ring key");
        Arc::new(CertifiedKey::new(
            vec![generated.cert.der().clone()],
            signing,
        ))
    }

    #[test]
    fn exact_then_wildcard_then_default() {
        let (a, wild, fallback) = (key("a.test"), key("w.test"), key("default.test"));
        let resolver = SniResolver::new(
            [
                (Arc::clone(&a), vec!["a.test".to_owned()]),
                (Arc::clone(&wild), vec!["*.w.test".to_owned()]),
            ],
            Arc::clone(&fallback),
        );
        assert!(Arc::ptr_eq(resolver.pick(Some("a.test")), &a));
        assert!(Arc::ptr_eq(resolver.pick(Some("api.w.test")), &wild));
        // A wildcard covers one label only, and not the bare domain.
        assert!(Arc::ptr_eq(resolver.pick(Some("x.api.w.test")), &fallback));
        assert!(Arc::ptr_eq(resolver.pick(Some("w.test")), &fallback));
        assert!(Arc::ptr_eq(resolver.pick(Some("other.test")), &fallback));
        assert!(Arc::ptr_eq(resolver.pick(None), &fallback));
    }
}
