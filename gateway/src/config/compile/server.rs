//! `listen`, `admin` and `server:`: the listener-wide settings.

use std::net::SocketAddr;

use marked_yaml::Spanned;

use super::super::errors::Diagnostics;
use super::super::model::ServerSettings;
use super::super::raw::{RawConfig, RawServer, Text};
use super::connections::{count, http2, streams};
use super::{duration, positive_duration, size};

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
        default_max_body: size(raw.max_body.as_ref(), "server.max_body", diag),
        workers: workers(raw.workers.as_ref(), diag),
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
