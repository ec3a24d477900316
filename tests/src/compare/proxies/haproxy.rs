//! HAProxy's loopback config: HTTP mode, one frontend, one backend server,
//! connection reuse to the backend, no logging, foreground.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use super::write_file;
use crate::compare::environment::SERVER_THREADS;

/// The command that runs HAProxy on a config written into `dir`.
pub(super) fn command(
    program: &Path,
    dir: &Path,
    listen: SocketAddr,
    backend: SocketAddr,
) -> std::io::Result<Command> {
    let config = write_file(dir, "haproxy.cfg", &config(listen, backend))?;
    let mut command = Command::new(program);
    command.arg("-db").arg("-f").arg(config);
    Ok(command)
}

pub(super) fn config(listen: SocketAddr, backend: SocketAddr) -> String {
    format!(
        r#"# Written by the comparison suite: HAProxy as a plain reverse proxy.
global
    nbthread {SERVER_THREADS}
    maxconn 8000

defaults
    mode http
    option http-keep-alive
    option forwardfor
    http-reuse always
    timeout connect 5s
    timeout client 60s
    timeout server 60s

frontend compare
    bind {listen}
    # The headers the gateway adds to every proxied request
    # (docs/configuration.md, "What every upstream request carries"), so
    # the backend parses the same request from each proxy; `option
    # forwardfor` above adds X-Forwarded-For.
    http-request set-var(txn.request_id) uuid()
    http-request set-header X-Request-Id %[var(txn.request_id)]
    http-request set-header X-Forwarded-Proto http
    http-request set-header X-Forwarded-Host %[req.hdr(host)]
    http-request set-header Forwarded "for=%[src];proto=http;host=\"%[req.hdr(host)]\""
    http-request set-header X-Real-IP %[src]
    # The gateway returns the request id to the client.
    http-response set-header X-Request-Id %[var(txn.request_id)]
    default_backend mock

backend mock
    server orders {backend}
"#
    )
}
