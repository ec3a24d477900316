//! The system's trust store, for the `https://` backends without `tls.ca`:
//! the operating system's CA bundle read with rustls-native-certs (on
//! Linux, OpenSSL's locations, such as `/etc/ssl/certs` on Debian; the
//! `SSL_CERT_FILE` and `SSL_CERT_DIR` variables replace it, as they do
//! for OpenSSL and curl), not a bundle compiled into the binary.
//!
//! Read when the first snapshot that needs it is built
//! ([`check_config`]), then kept for the life of the process. A store
//! with no usable certificate is an error of that snapshot: the gateway
//! does not start, a reload is refused (and the running config keeps
//! serving); it is not kept, so the next start or reload reads it again.

use std::sync::{Arc, OnceLock};

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

use crate::config::model::{BackendSpec, GatewayConfig};

/// The variables that replace the OS's store (rustls-native-certs').
const ENV_VARS: [&str; 2] = ["SSL_CERT_FILE", "SSL_CERT_DIR"];
/// Reading errors quoted in [`SystemRootsError`]; the rest are logged.
const QUOTED_ERRORS: usize = 3;

/// Why the system's trust store cannot serve.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the system's trust store ({source_name}) has no usable certificate{reasons}; set the backend's tls.ca, point SSL_CERT_FILE or SSL_CERT_DIR at a CA bundle, or install the OS's CA certificates"
)]
pub struct SystemRootsError {
    /// `SSL_CERT_FILE=...` when set, else `the OS's`.
    source_name: String,
    /// `: ` and the first reading errors, or nothing.
    reasons: String,
}

/// Whether `spec` has `https://` URLs checked against the system's store.
pub fn uses_system_roots(spec: &BackendSpec) -> bool {
    spec.tls.ca.is_none()
        && spec
            .urls
            .iter()
            .any(|url| url.scheme_str() == Some("https"))
}

/// The first backend of `config` that needs the system's store, with the
/// store's error when it cannot be read; loads it (once) when needed.
pub fn check_config(config: &GatewayConfig) -> Result<(), (String, SystemRootsError)> {
    let mut needing = config.backends.values().filter(|s| uses_system_roots(s));
    match needing.next() {
        Some(spec) => load().map(drop).map_err(|error| (spec.name.clone(), error)),
        None => Ok(()),
    }
}

/// The store: the one read before, else read now (and kept when usable).
pub fn load() -> Result<Arc<RootCertStore>, SystemRootsError> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    if let Some(roots) = ROOTS.get() {
        return Ok(Arc::clone(roots));
    }
    let loaded = rustls_native_certs::load_native_certs();
    let errors: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
    let roots = Arc::new(from_certificates(loaded.certs, &errors)?);
    Ok(Arc::clone(ROOTS.get_or_init(|| roots)))
}

/// A store of the parsable ones of `certificates`; an error when there is
/// none. `errors` (the files that could not be read) are logged.
fn from_certificates(
    certificates: Vec<CertificateDer<'static>>,
    errors: &[String],
) -> Result<RootCertStore, SystemRootsError> {
    let source_name = source_name();
    for error in errors {
        tracing::warn!(%error, source = %source_name, "while reading the system's trusted certificates");
    }
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        let quoted: Vec<&str> = errors
            .iter()
            .take(QUOTED_ERRORS)
            .map(String::as_str)
            .collect();
        let reasons = match (quoted.is_empty(), ignored) {
            (false, _) => format!(": {}", quoted.join("; ")),
            (true, 0) => String::new(),
            (true, n) => format!(": {n} certificate(s) could not be parsed"),
        };
        return Err(SystemRootsError {
            source_name,
            reasons,
        });
    }
    tracing::info!(
        added,
        ignored,
        source = %source_name,
        "system trust store loaded for https backends"
    );
    Ok(roots)
}

/// Where the store was read from, for messages.
fn source_name() -> String {
    let set: Vec<String> = ENV_VARS
        .iter()
        .filter_map(|name| {
            let value = std::env::var_os(name)?;
            Some(format!("{name}={}", value.to_string_lossy()))
        })
        .collect();
    if set.is_empty() {
        "the OS's".to_owned()
    } else {
        set.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_certificate() -> CertificateDer<'static> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn usable_certificates_make_a_store_and_unparsable_ones_are_skipped() {
        let junk = CertificateDer::from(vec![0x30, 0x03, 1, 2, 3]);
        let roots = from_certificates(vec![junk, ca_certificate()], &[]).unwrap();
        assert_eq!(roots.len(), 1);
    }

    #[test]
    fn no_usable_certificate_is_an_error_that_quotes_the_first_reasons() {
        let errors: Vec<String> = (1..=5).map(|n| format!("file {n} unreadable")).collect();
        let message = from_certificates(Vec::new(), &errors)
            .unwrap_err()
            .to_string();
        assert!(message.contains("has no usable certificate: file 1 unreadable; file 2 unreadable; file 3 unreadable;"), "{message}");
        assert!(!message.contains("file 4"), "{message}");
        assert!(message.contains("tls.ca"), "{message}");
        let junk = CertificateDer::from(vec![0x30, 0x00]);
        let message = from_certificates(vec![junk], &[]).unwrap_err().to_string();
        assert!(
            message.contains("1 certificate(s) could not be parsed"),
            "{message}"
        );
    }
}
