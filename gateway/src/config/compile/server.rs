//! `listen`, `admin` and `server:`: the listener-wide settings.

use std::net::SocketAddr;

use marked_yaml::Spanned;

use super::super::errors::Diagnostics;
use super::super::model::{RequestLimits, ServerSettings, UnderscoreHeaders};
use super::super::raw::{RawConfig, RawServer, RawUnderscoreHeaders, Text};
use super::connections::{count, http2, streams};
use super::{body_limit, duration, positive_duration, size};

pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub(crate) const DEFAULT_ADMIN: &str = "127.0.0.1:9901";
/// Upper bound for the connection limits (a sanity check on typos).
const MAX_CONNECTIONS: usize = 10_000_000;

/// The main and admin listener addresses. They must differ unless one
/// asks for an ephemeral port (`:0`).
pub(super) fn listeners(raw: &RawConfig, diag: &mut Diagnostics) -> (SocketAddr, SocketAddr) {
    let listen = address(raw.listen.as_ref(), DEFAULT_LISTEN, "listen", diag);
    let admin = address(raw.admin.as_ref(), DEFAULT_ADMIN, "admin", diag);
    if listen == admin && listen.port() != 0 {
        let span = raw
            .admin
            .as_ref()
            .or(raw.listen.as_ref())
            .map(|text| *text.span());
        if let Some(span) = span {
            diag.error(
                &span,
                format!("admin: {admin} is also the main listener address"),
            );
        }
    }
    (listen, admin)
}

fn address(value: Option<&Text>, default: &str, what: &str, diag: &mut Diagnostics) -> SocketAddr {
    let fallback = || {
        default
            .parse()
            .expect("default listener addresses are valid")
    };
    let Some(text) = value else {
        return fallback();
    };
    text.trim().parse().unwrap_or_else(|_| {
        diag.error(
            text.span(),
            format!(
                "{what}: \"{}\" is not an IP:port address (e.g. \"{default}\")",
                text.as_str()
            ),
        );
        fallback()
    })
}

/// `server:`, with [`ServerSettings::default`] for absent keys.
pub(super) fn settings(raw: Option<&RawServer>, diag: &mut Diagnostics) -> ServerSettings {
    let defaults = ServerSettings::default();
    let Some(raw) = raw else {
        return defaults;
    };
    ServerSettings {
        header_read_timeout: positive_duration(
            raw.header_read_timeout.as_ref(),
            "server.header_read_timeout",
            diag,
        )
        .unwrap_or(defaults.header_read_timeout),
        idle_timeout: positive_duration(raw.idle_timeout.as_ref(), "server.idle_timeout", diag)
            .unwrap_or(defaults.idle_timeout),
        send_timeout: positive_duration(raw.send_timeout.as_ref(), "server.send_timeout", diag)
            .unwrap_or(defaults.send_timeout),
        max_connections: count(
            raw.max_connections.as_ref(),
            "server.max_connections",
            1..=MAX_CONNECTIONS,
            diag,
        )
        .unwrap_or(defaults.max_connections),
        max_connections_per_worker: count(
            raw.max_connections_per_worker.as_ref(),
            "server.max_connections_per_worker",
            1..=MAX_CONNECTIONS,
            diag,
        )
        .unwrap_or(defaults.max_connections_per_worker),
        listen_backlog: count(
            raw.listen_backlog.as_ref(),
            "server.listen_backlog",
            1..=65_535,
            diag,
        )
        .and_then(|backlog| u32::try_from(backlog).ok())
        .unwrap_or(defaults.listen_backlog),
        http2: http2(raw.http2.as_ref(), diag),
        streams: streams(raw.streams.as_ref(), diag),
        shutdown_grace: duration(raw.shutdown_grace.as_ref(), "server.shutdown_grace", diag)
            .unwrap_or(defaults.shutdown_grace),
        drain_delay: duration(raw.drain_delay.as_ref(), "server.drain_delay", diag)
            .unwrap_or(defaults.drain_delay),
        default_max_body: body_limit(raw.max_body.as_ref(), "server.max_body", diag)
            .unwrap_or(defaults.default_max_body),
        workers: workers(raw.workers.as_ref(), diag),
        trusted_proxies: trusted_proxies(raw.trusted_proxies.as_deref(), diag),
        headers_with_underscores: match raw.headers_with_underscores.as_deref() {
            Some(RawUnderscoreHeaders::Drop) | None => UnderscoreHeaders::Drop,
            Some(RawUnderscoreHeaders::Reject) => UnderscoreHeaders::Reject,
            Some(RawUnderscoreHeaders::Allow) => UnderscoreHeaders::Allow,
        },
        request_limits: request_limits(raw, diag),
        // Compiled with the config's directory (`compile::tls`).
        tls: None,
    }
}

/// `server.trusted_proxies`: CIDRs (`10.0.0.0/8`) or single addresses.
fn trusted_proxies(values: Option<&[Text]>, diag: &mut Diagnostics) -> Vec<ipnet::IpNet> {
    let mut nets = Vec::new();
    for text in values.unwrap_or_default() {
        let trimmed = text.trim();
        let parsed = trimmed
            .parse::<ipnet::IpNet>()
            .or_else(|_| trimmed.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
        match parsed {
            Ok(net) => nets.push(net.trunc()),
            Err(_) => diag.error(
                text.span(),
                format!(
                    "server.trusted_proxies: \"{}\" is not an IP address or CIDR (e.g. \"10.0.0.0/8\")",
                    text.as_str()
                ),
            ),
        }
    }
    nets
}

/// `server.max_uri_length`, `max_header_bytes`, `max_headers`.
fn request_limits(raw: &RawServer, diag: &mut Diagnostics) -> RequestLimits {
    let defaults = RequestLimits::default();
    let mut bounded = |value: Option<&Text>, what: &str, min: u64, default: usize| {
        let Some(text) = value else { return default };
        match size(Some(text), what, diag) {
            Some(n) if n >= min && n <= u64::from(u32::MAX) => n as usize,
            Some(_) => {
                diag.error(
                    text.span(),
                    format!("{what}: must be between {min} bytes and 4GiB"),
                );
                default
            }
            None => default,
        }
    };
    let max_uri_length = bounded(
        raw.max_uri_length.as_ref(),
        "server.max_uri_length",
        64,
        defaults.max_uri_length,
    );
    let max_header_bytes = bounded(
        raw.max_header_bytes.as_ref(),
        "server.max_header_bytes",
        RequestLimits::MIN_HEADER_BYTES as u64,
        defaults.max_header_bytes,
    );
    let max_headers = match raw.max_headers.as_ref() {
        None => defaults.max_headers,
        Some(value) if (1..=10_000).contains(&**value) => **value as usize,
        Some(value) => {
            diag.error(
                value.span(),
                "server.max_headers: must be between 1 and 10000",
            );
            defaults.max_headers
        }
    };
    RequestLimits {
        max_uri_length,
        max_header_bytes,
        max_headers,
    }
}

/// `server.workers`: 1 to [`ServerSettings::MAX_WORKERS`].
fn workers(value: Option<&Spanned<u64>>, diag: &mut Diagnostics) -> Option<usize> {
    let value = value?;
    match usize::try_from(**value) {
        Ok(count @ 1..=ServerSettings::MAX_WORKERS) => Some(count),
        _ => {
            diag.error(
                value.span(),
                format!(
                    "server.workers: must be between 1 and {} (or left out for one per CPU core)",
                    ServerSettings::MAX_WORKERS
                ),
            );
            None
        }
    }
}
