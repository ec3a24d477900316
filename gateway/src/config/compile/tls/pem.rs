//! Reading the PEM files the TLS keys name: certificate chains, private
//! keys (PKCS#8, PKCS#1 or SEC1) and CA bundles. Each failure is a config
//! error at the path's position; the key is checked against its
//! certificate here, so a mismatched pair never reaches a listener.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use super::super::super::errors::Diagnostics;
use super::super::super::model::tls::{CaBundle, Identity, SecretKey};
use super::super::super::raw::Text;

/// Most bytes read from one PEM file (a chain of a few certificates is a
/// few KiB; a CA bundle of the whole web PKI is about 250 KiB).
const MAX_PEM_BYTES: u64 = 4 * 1024 * 1024;

/// The path as written, taken from `base_dir` when relative.
fn resolve(text: &Text, base_dir: &Path) -> PathBuf {
    let path = Path::new(text.trim());
    if path.is_absolute() {
        path.to_owned()
    } else {
        base_dir.join(path)
    }
}

fn read(
    text: &Text,
    what: &str,
    base_dir: &Path,
    diag: &mut Diagnostics,
) -> Option<(PathBuf, Vec<u8>)> {
    let path = resolve(text, base_dir);
    let bytes = std::fs::metadata(&path)
        .and_then(|meta| {
            if meta.len() > MAX_PEM_BYTES {
                Err(std::io::Error::other(format!(
                    "larger than {MAX_PEM_BYTES} bytes"
                )))
            } else {
                std::fs::read(&path)
            }
        })
        .map_err(|error| {
            diag.error(
                text.span(),
                format!("{what}: cannot read \"{}\": {error}", text.trim()),
            );
        })
        .ok()?;
    Some((path, bytes))
}

/// Every certificate of a PEM file, in order; at least one.
pub(super) fn certificates(
    text: &Text,
    what: &str,
    base_dir: &Path,
    diag: &mut Diagnostics,
) -> Option<(PathBuf, Vec<CertificateDer<'static>>)> {
    let (path, bytes) = read(text, what, base_dir, diag)?;
    let parsed: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
    let problem = match parsed {
        Ok(certificates) if !certificates.is_empty() => return Some((path, certificates)),
        Ok(_) => "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned(),
        Err(error) => format!("is not valid PEM ({error})"),
    };
    diag.error(
        text.span(),
        format!("{what}: \"{}\" {problem}", text.trim()),
    );
    None
}

/// A CA bundle: one or more certificates.
pub(super) fn ca_bundle(
    text: &Text,
    what: &str,
    base_dir: &Path,
    diag: &mut Diagnostics,
) -> Option<CaBundle> {
    let (path, certificates) = certificates(text, what, base_dir, diag)?;
    let mut roots = rustls::RootCertStore::empty();
    let (_, unusable) = roots.add_parsable_certificates(certificates.iter().cloned());
    if unusable > 0 {
        diag.error(
            text.span(),
            format!(
                "{what}: \"{}\": {unusable} certificate(s) cannot be used as a trust anchor",
                text.trim()
            ),
        );
        return None;
    }
    Some(CaBundle { path, certificates })
}

fn private_key(
    text: &Text,
    what: &str,
    base_dir: &Path,
    diag: &mut Diagnostics,
) -> Option<(PathBuf, PrivateKeyDer<'static>)> {
    let (path, bytes) = read(text, what, base_dir, diag)?;
    match PrivateKeyDer::from_pem_slice(&bytes) {
        Ok(key) => Some((path, key)),
        Err(error) => {
            diag.error(
                text.span(),
                format!(
                    "{what}: \"{}\" holds no usable PEM private key (PKCS#8, RSA or EC): {error}",
                    text.trim()
                ),
            );
            None
        }
    }
}

/// A certificate chain and its key, checked to belong together.
pub(super) fn identity(
    cert: &Text,
    key: &Text,
    what: &str,
    base_dir: &Path,
    diag: &mut Diagnostics,
) -> Option<Identity> {
    let chain = certificates(cert, &format!("{what}.cert"), base_dir, diag);
    let secret = private_key(key, &format!("{what}.key"), base_dir, diag);
    let ((cert_path, chain), (key_path, secret)) = (chain?, secret?);
    let provider = rustls::crypto::ring::default_provider();
    let checked = CertifiedKey::from_der(chain.clone(), secret.clone_key(), &provider);
    if let Err(error) = checked {
        let problem = match error {
            rustls::Error::InconsistentKeys(_) => {
                "the key does not belong to the certificate".to_owned()
            }
            other => format!("the key cannot be used with the certificate ({other})"),
        };
        diag.error(
            key.span(),
            format!(
                "{what}.key: \"{}\": {problem} \"{}\"",
                key.trim(),
                cert.trim()
            ),
        );
        return None;
    }
    Some(Identity {
        cert_path,
        key_path,
        chain,
        key: SecretKey(Arc::new(secret)),
    })
}
