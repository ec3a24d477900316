//! `backends:`: names, base URLs, protocol, timeouts, limits, balancing,
//! upstream TLS (`tls`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use marked_yaml::Spanned;

use super::super::errors::Diagnostics;
use super::super::model::{BackendSpec, EjectionPolicy, LoadBalancing, UpstreamProtocol};
use super::super::raw::{
    BackendEntry, RawBackend, RawEjection, RawLoadBalancing, RawProtocol, Text,
};
use super::positive_duration;
use super::resilience::{RawResilience, resilience};

pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub(crate) const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// nginx's `proxy_read_timeout`.
pub(crate) const DEFAULT_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 1024;
pub(crate) const DEFAULT_EJECTION: EjectionPolicy = EjectionPolicy {
    consecutive_failures: 5,
    cooldown: Duration::from_secs(10),
};

/// Compiles every backend that has a valid name, keyed by name.
/// A backend that failed to deserialise is left out.
pub(super) fn compile_backends(
    raw: &[BackendEntry],
    base_dir: &Path,
    diag: &mut Diagnostics,
) -> BTreeMap<String, Arc<BackendSpec>> {
    let mut backends = BTreeMap::new();
    for entry in raw {
        let Some(backend) = &entry.backend else {
            continue;
        };
        if check_name(&entry.name, diag) {
            let spec = compile_backend(&entry.name, backend, base_dir, diag);
            backends.insert(entry.name.to_string(), Arc::new(spec));
        }
    }
    backends
}

fn check_name(name: &Text, diag: &mut Diagnostics) -> bool {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        diag.error(
            name.span(),
            format!(
                "backend name \"{}\" may only use letters, digits, '-', '_' and '.'",
                name.as_str()
            ),
        );
    }
    valid
}

fn compile_backend(
    name: &Text,
    raw: &RawBackend,
    base_dir: &Path,
    diag: &mut Diagnostics,
) -> BackendSpec {
    let what = |key: &str| format!("backend \"{}\": {key}", name.as_str());
    let urls = urls(name, raw, diag);
    let protocol = protocol(name, raw, &urls, diag);
    let uses_https = urls.iter().any(|url| url.scheme_str() == Some("https"));
    BackendSpec {
        name: name.to_string(),
        tls: super::tls::backend_tls(name, raw.tls.as_ref(), uses_https, base_dir, diag),
        urls,
        protocol,
        connect_timeout: positive_duration(
            raw.connect_timeout.as_ref(),
            &what("connect_timeout"),
            diag,
        )
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        request_timeout: positive_duration(
            raw.request_timeout.as_ref(),
            &what("request_timeout"),
            diag,
        )
        .unwrap_or(DEFAULT_REQUEST_TIMEOUT),
        body_idle_timeout: positive_duration(
            raw.body_idle_timeout.as_ref(),
            &what("body_idle_timeout"),
            diag,
        )
        .unwrap_or(DEFAULT_BODY_IDLE_TIMEOUT),
        max_connections: max_connections(
            raw.max_connections.as_ref(),
            &what("max_connections"),
            diag,
        ),
        load_balancing: match raw.load_balancing.as_deref() {
            None | Some(RawLoadBalancing::LeastRequest) => LoadBalancing::LeastRequest,
            Some(RawLoadBalancing::RoundRobin) => LoadBalancing::RoundRobin,
        },
        ejection: ejection(raw.ejection.as_ref(), &what("ejection"), diag),
        health_check: raw
            .health_check
            .as_ref()
            .map(|check| super::health_check::compile(check, name, protocol, diag)),
        resilience: resilience(
            RawResilience {
                retry: raw.retry.as_ref(),
                budget: raw.retry_budget.as_ref(),
                ejection: raw.ejection.as_ref(),
                breaker: raw.circuit_breaker.as_ref(),
            },
            &Default::default(),
            &format!("backend \"{}\"", name.as_str()),
            diag,
        ),
    }
}

/// `protocol:` checked against the URLs' schemes: `h2c` is cleartext
/// only, `h2` (HTTP/2 chosen by ALPN) needs TLS.
fn protocol(
    name: &Text,
    raw: &RawBackend,
    urls: &[Uri],
    diag: &mut Diagnostics,
) -> UpstreamProtocol {
    let protocol = match raw.protocol.as_deref() {
        None | Some(RawProtocol::Http1) => UpstreamProtocol::Http1,
        Some(RawProtocol::H2c) => UpstreamProtocol::H2c,
        Some(RawProtocol::H2) => UpstreamProtocol::H2,
    };
    let (wrong_scheme, problem) = match protocol {
        UpstreamProtocol::Http1 => return protocol,
        UpstreamProtocol::H2c => (
            "https",
            "h2c is HTTP/2 over cleartext: use protocol: h2 for https:// URLs",
        ),
        UpstreamProtocol::H2 => (
            "http",
            "h2 is HTTP/2 over TLS: use protocol: h2c for http:// URLs",
        ),
    };
    if urls
        .iter()
        .any(|url| url.scheme_str() == Some(wrong_scheme))
        && let Some(written) = &raw.protocol
    {
        diag.error(
            written.span(),
            format!("backend \"{}\": protocol: {problem}", name.as_str()),
        );
    }
    protocol
}

fn max_connections(value: Option<&Spanned<u64>>, what: &str, diag: &mut Diagnostics) -> usize {
    let Some(value) = value else {
        return DEFAULT_MAX_CONNECTIONS;
    };
    match usize::try_from(**value) {
        Ok(0) | Err(_) => {
            diag.error(
                value.span(),
                format!("{what}: must be between 1 and {}", usize::MAX),
            );
            DEFAULT_MAX_CONNECTIONS
        }
        Ok(limit) => limit,
    }
}

fn ejection(raw: Option<&RawEjection>, what: &str, diag: &mut Diagnostics) -> EjectionPolicy {
    let Some(raw) = raw else {
        return DEFAULT_EJECTION;
    };
    let consecutive_failures = match &raw.consecutive_failures {
        None => DEFAULT_EJECTION.consecutive_failures,
        Some(count) if **count == 0 => {
            diag.error(
                count.span(),
                format!("{what}.consecutive_failures: must be at least 1"),
            );
            DEFAULT_EJECTION.consecutive_failures
        }
        Some(count) => **count,
    };
    let cooldown = positive_duration(raw.cooldown.as_ref(), &format!("{what}.cooldown"), diag)
        .unwrap_or(DEFAULT_EJECTION.cooldown);
    EjectionPolicy {
        consecutive_failures,
        cooldown,
    }
}

/// `url:` or `urls:`, exactly one, each a valid, distinct `http://` or
/// `https://` URL.
fn urls(name: &Text, raw: &RawBackend, diag: &mut Diagnostics) -> Vec<Uri> {
    let mut uris: Vec<Uri> = Vec::new();
    for text in listed_urls(name, raw, diag) {
        let Some(uri) = parse_url(name, text, diag) else {
            continue;
        };
        if uris.contains(&uri) {
            let message = format!(
                "backend \"{}\": url \"{}\" is listed twice",
                name.as_str(),
                text.as_str()
            );
            diag.error(text.span(), message);
        }
        uris.push(uri);
    }
    uris
}

fn listed_urls<'a>(name: &Text, raw: &'a RawBackend, diag: &mut Diagnostics) -> Vec<&'a Text> {
    let (span, problem) = match (&raw.url, &raw.urls) {
        (Some(url), None) => return vec![url],
        (None, Some(urls)) if !urls.is_empty() => return urls.iter().collect(),
        (None, Some(urls)) => (urls.span(), ": urls: list at least one URL"),
        (Some(url), Some(_)) => (url.span(), ": set either url or urls, not both"),
        (None, None) => (name.span(), " needs a url (or urls)"),
    };
    diag.error(span, format!("backend \"{}\"{problem}", name.as_str()));
    Vec::new()
}

fn parse_url(name: &Text, text: &Text, diag: &mut Diagnostics) -> Option<Uri> {
    let problem = match text.trim().parse::<Uri>() {
        Err(error) => format!("is not a URL ({error})"),
        Ok(uri) => match url_problem(&uri) {
            None => return Some(uri),
            Some(problem) => problem.to_owned(),
        },
    };
    diag.error(
        text.span(),
        format!(
            "backend \"{}\": url \"{}\" {problem}",
            name.as_str(),
            text.as_str()
        ),
    );
    None
}

fn url_problem(uri: &Uri) -> Option<&'static str> {
    match uri.scheme_str() {
        None => return Some("needs a scheme and host, e.g. \"http://127.0.0.1:7101\""),
        Some("http" | "https") => {}
        Some(_) => return Some("must start with http:// or https://"),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Some("has no host");
    }
    if uri.query().is_some() {
        return Some("must not have a query string");
    }
    None
}
