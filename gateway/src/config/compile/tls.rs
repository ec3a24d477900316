//! `server.tls` and `backends.*.tls`: the PEM files are read and checked
//! here (`pem`), the names SNI picks a certificate by are settled, and
//! the files' bytes go into the config hash, so a reload notices a
//! rotated certificate even when routes.yaml itself did not change.

mod pem;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use marked_yaml::Spanned;
use rustls::pki_types::ServerName;
use sha2::{Digest, Sha256};

use super::super::errors::Diagnostics;
use super::super::model::BackendSpec;
use super::super::model::tls::{
    BackendTls, CertificateSpec, ClientAuth, Hsts, HttpRedirect, Resumption, ServerTls,
};
use super::super::raw::Text;
use super::super::raw_tls::{
    RawBackendTls, RawCertificate, RawClientAuthMode, RawHsts, RawHttpRedirect, RawServerTls,
};
use super::connections::count;

/// Compiles `server.tls`; `None` when absent or wrong (errors recorded).
pub(super) fn server_tls(
    raw: Option<&RawServerTls>,
    base_dir: &Path,
    diag: &mut Diagnostics,
) -> Option<Arc<ServerTls>> {
    let raw = raw?;
    let errors_before = diag.error_count();
    if raw.certificates.is_empty() {
        diag.error(
            raw.certificates.span(),
            "server.tls.certificates: list at least one certificate",
        );
    }
    let certificates: Vec<CertificateSpec> = raw
        .certificates
        .iter()
        .enumerate()
        .filter_map(|(index, entry)| certificate(index, entry, base_dir, diag))
        .collect();
    check_unique_names(&raw.certificates, &certificates, diag);
    let default_certificate = default_certificate(&raw.certificates, diag);
    let client_auth = raw.client_auth.as_ref().and_then(|auth| {
        let ca = pem::ca_bundle(&auth.ca, "server.tls.client_auth.ca", base_dir, diag)?;
        let required = !matches!(auth.mode.as_deref(), Some(RawClientAuthMode::Optional));
        Some(ClientAuth { ca, required })
    });
    let http_redirect = raw
        .http_redirect
        .as_ref()
        .and_then(|redirect| http_redirect(redirect, diag));
    let resumption = resumption(raw, diag);
    let hsts = raw.hsts.as_ref().and_then(|hsts| self::hsts(hsts, diag));
    if diag.error_count() > errors_before {
        return None;
    }
    Some(Arc::new(ServerTls {
        certificates,
        default_certificate,
        client_auth,
        http_redirect,
        resumption,
        hsts,
    }))
}

/// `session_tickets` and `session_cache`, with their defaults.
fn resumption(raw: &RawServerTls, diag: &mut Diagnostics) -> Resumption {
    let defaults = Resumption::default();
    Resumption {
        tickets: raw
            .session_tickets
            .as_deref()
            .copied()
            .unwrap_or(defaults.tickets),
        cache_sessions: count(
            raw.session_cache.as_ref(),
            "server.tls.session_cache",
            0..=Resumption::MAX_CACHE_SESSIONS,
            diag,
        )
        .unwrap_or(defaults.cache_sessions),
    }
}

/// `hsts:` (max-age a year unless set); `preload` needs what the
/// browsers' preload list requires: `include_subdomains` and a max-age of
/// at least a year.
fn hsts(raw: &Spanned<RawHsts>, diag: &mut Diagnostics) -> Option<Hsts> {
    let max_age = super::duration(raw.max_age.as_ref(), "server.tls.hsts.max_age", diag)
        .unwrap_or(Hsts::DEFAULT_MAX_AGE);
    let flag = |value: &Option<Spanned<bool>>| value.as_deref().copied().unwrap_or(false);
    let hsts = Hsts {
        max_age,
        include_subdomains: flag(&raw.include_subdomains),
        preload: flag(&raw.preload),
    };
    if hsts.preload && (!hsts.include_subdomains || hsts.max_age < Hsts::DEFAULT_MAX_AGE) {
        let span = raw
            .preload
            .as_ref()
            .map_or(raw.span(), |preload| preload.span());
        diag.error(
            span,
            "server.tls.hsts.preload: the preload list requires include_subdomains: true and a max_age of at least 8760h (a year)",
        );
        return None;
    }
    Some(hsts)
}

fn certificate(
    index: usize,
    raw: &RawCertificate,
    base_dir: &Path,
    diag: &mut Diagnostics,
) -> Option<CertificateSpec> {
    let what = format!("server.tls.certificates[{index}]");
    let identity = pem::identity(&raw.cert, &raw.key, &what, base_dir, diag)?;
    let server_names = match &raw.server_names {
        Some(names) => names
            .iter()
            .filter_map(|name| server_name(name, &what, diag))
            .collect(),
        None => names_in_certificate(&identity.chain[0]),
    };
    let is_default = raw.default.as_deref().copied().unwrap_or(false);
    let names_given = raw
        .server_names
        .as_ref()
        .is_some_and(|names| !names.is_empty());
    if server_names.is_empty() && !names_given && !is_default && index != 0 {
        diag.error(
            raw.cert.span(),
            format!(
                "{what}.cert: \"{}\" names no DNS host; set server_names (or make it the default)",
                raw.cert.trim()
            ),
        );
        return None;
    }
    Some(CertificateSpec {
        identity,
        server_names,
    })
}

/// The DNS names (and wildcards) in the certificate's subjectAltName.
fn names_in_certificate(leaf: &rustls::pki_types::CertificateDer<'_>) -> Vec<String> {
    webpki::EndEntityCert::try_from(leaf)
        .map(|cert| {
            cert.valid_dns_names()
                .map(str::to_ascii_lowercase)
                .collect()
        })
        .unwrap_or_default()
}

/// A `server_names` entry: a DNS name, optionally `*.` and a domain.
fn server_name(text: &Text, what: &str, diag: &mut Diagnostics) -> Option<String> {
    let name = text.trim().to_ascii_lowercase();
    let domain = name.strip_prefix("*.").unwrap_or(&name);
    let valid =
        !domain.contains('*') && matches!(ServerName::try_from(domain), Ok(ServerName::DnsName(_)));
    if !valid {
        diag.error(
            text.span(),
            format!(
                "{what}.server_names: \"{}\" is not a DNS name (or *.domain)",
                text.trim()
            ),
        );
        return None;
    }
    Some(name)
}

/// A name served by two certificates would make SNI ambiguous.
fn check_unique_names(
    raw: &[RawCertificate],
    compiled: &[CertificateSpec],
    diag: &mut Diagnostics,
) {
    if raw.len() != compiled.len() {
        return;
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (index, spec) in compiled.iter().enumerate() {
        for name in &spec.server_names {
            if let Some(first) = seen.insert(name, index)
                && first != index
            {
                diag.error(
                    raw[index].cert.span(),
                    format!(
                        "server.tls.certificates[{index}]: \"{name}\" is already served by certificates[{first}]"
                    ),
                );
            }
        }
    }
}

/// The entry marked `default: true` (at most one), else the first.
fn default_certificate(raw: &[RawCertificate], diag: &mut Diagnostics) -> usize {
    let marked: Vec<usize> = raw
        .iter()
        .enumerate()
        .filter(|(_, entry)| entry.default.as_deref().copied().unwrap_or(false))
        .map(|(index, _)| index)
        .collect();
    if let [_, second, ..] = marked[..]
        && let Some(flag) = &raw[second].default
    {
        diag.error(
            flag.span(),
            format!(
                "server.tls.certificates[{second}].default: only one certificate may be the default"
            ),
        );
    }
    marked.first().copied().unwrap_or(0)
}

fn http_redirect(raw: &RawHttpRedirect, diag: &mut Diagnostics) -> Option<HttpRedirect> {
    let listen = raw.listen.trim().parse::<SocketAddr>().map_err(|_| {
        diag.error(
            raw.listen.span(),
            format!(
                "server.tls.http_redirect.listen: \"{}\" is not an address such as 0.0.0.0:80",
                raw.listen.trim()
            ),
        );
    });
    let https_port = match &raw.https_port {
        Some(port) if **port == 0 => {
            diag.error(
                port.span(),
                "server.tls.http_redirect.https_port: must be between 1 and 65535",
            );
            return None;
        }
        Some(port) => Some(**port),
        None => None,
    };
    Some(HttpRedirect {
        listen: listen.ok()?,
        https_port,
    })
}

/// Compiles `backends.<name>.tls`; `uses_https` says whether any of the
/// backend's URLs is `https://`.
pub(super) fn backend_tls(
    name: &Text,
    raw: Option<&RawBackendTls>,
    uses_https: bool,
    base_dir: &Path,
    diag: &mut Diagnostics,
) -> BackendTls {
    let Some(raw) = raw else {
        return BackendTls::default();
    };
    let what = format!("backend \"{}\": tls", name.as_str());
    if !uses_https {
        diag.error(
            name.span(),
            format!("{what}: applies to https:// URLs, and this backend has none"),
        );
    }
    client_tls(raw, &what, base_dir, diag)
}

/// Compiles a client's `tls:` (a backend's, the trace exporter's):
/// `what` names it in errors.
pub(super) fn client_tls(
    raw: &RawBackendTls,
    what: &str,
    base_dir: &Path,
    diag: &mut Diagnostics,
) -> BackendTls {
    let ca = raw
        .ca
        .as_ref()
        .and_then(|ca| pem::ca_bundle(ca, &format!("{what}.ca"), base_dir, diag));
    let server_name = raw.server_name.as_ref().and_then(|text| {
        let name = text.trim();
        if ServerName::try_from(name).is_ok() {
            return Some(name.to_owned());
        }
        diag.error(
            text.span(),
            format!("{what}.server_name: \"{name}\" is not a DNS name or IP address"),
        );
        None
    });
    let client_certificate = match (&raw.cert, &raw.key) {
        (Some(cert), Some(key)) => pem::identity(cert, key, what, base_dir, diag),
        (Some(text), None) | (None, Some(text)) => {
            diag.error(
                text.span(),
                format!("{what}: a client certificate needs both cert and key"),
            );
            None
        }
        (None, None) => None,
    };
    BackendTls {
        ca,
        server_name,
        client_certificate,
    }
}

/// Extends the config hash with every TLS file's bytes.
pub(super) fn hash_with_tls<'a>(
    hash: String,
    server: Option<&ServerTls>,
    backends: impl Iterator<Item = &'a Arc<BackendSpec>>,
) -> String {
    let mut digest = Sha256::new();
    let mut any = false;
    let add_identity = |digest: &mut Sha256, identity: &super::super::model::tls::Identity| {
        for cert in &identity.chain {
            digest.update(cert.as_ref());
        }
        digest.update(identity.key.0.secret_der());
    };
    if let Some(server) = server {
        any = true;
        for certificate in &server.certificates {
            add_identity(&mut digest, &certificate.identity);
        }
        for ca in server
            .client_auth
            .iter()
            .flat_map(|auth| &auth.ca.certificates)
        {
            digest.update(ca.as_ref());
        }
    }
    for backend in backends {
        let tls = &backend.tls;
        for ca in tls.ca.iter().flat_map(|ca| &ca.certificates) {
            any = true;
            digest.update(ca.as_ref());
        }
        if let Some(identity) = &tls.client_certificate {
            any = true;
            add_identity(&mut digest, identity);
        }
    }
    if !any {
        return hash;
    }
    digest.update(hash);
    hex::encode(digest.finalize())
}
