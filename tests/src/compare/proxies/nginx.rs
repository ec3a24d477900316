//! nginx's loopback config: one upstream with keep-alive, one server,
//! `proxy_pass` for every path, no access log, foreground master; with
//! [`TlsFiles`], the server terminates TLS ([`tls_directives`]).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use super::{TlsFiles, write_file};
use crate::compare::environment::SERVER_THREADS;

/// The command that runs nginx on a config written into `dir`.
pub(super) fn command(
    program: &Path,
    dir: &Path,
    listen: SocketAddr,
    backend: SocketAddr,
    tls: Option<&TlsFiles>,
) -> std::io::Result<Command> {
    std::fs::create_dir_all(dir.join("temp"))?;
    let config = write_file(dir, "nginx.conf", &config(dir, listen, backend, tls))?;
    let mut command = Command::new(program);
    command
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(config);
    Ok(command)
}

pub(super) fn config(
    dir: &Path,
    listen: SocketAddr,
    backend: SocketAddr,
    tls: Option<&TlsFiles>,
) -> String {
    let dir = dir.display();
    let (ssl, tls) = match tls {
        Some(files) => (" ssl", tls_directives(files)),
        None => ("", String::new()),
    };
    format!(
        r#"# Written by the comparison suite: nginx as a plain reverse proxy.
daemon off;
worker_processes {SERVER_THREADS};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;

events {{
    worker_connections 8192;
}}

http {{
    access_log off;
    client_body_temp_path {dir}/temp/body;
    proxy_temp_path {dir}/temp/proxy;
    fastcgi_temp_path {dir}/temp/fastcgi;
    uwsgi_temp_path {dir}/temp/uwsgi;
    scgi_temp_path {dir}/temp/scgi;
    # Keep client connections open for the whole run, as the gateway does.
    keepalive_requests 1000000;
    keepalive_timeout 75s;

    upstream backend {{
        server {backend};
        keepalive 256;
        keepalive_requests 1000000;
    }}

    server {{
        listen {listen}{ssl};{tls}
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            # The headers the gateway adds to every proxied request
            # (docs/configuration.md, "What every upstream request carries"),
            # so the backend parses the same request from each proxy.
            proxy_set_header X-Request-Id $request_id;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header Forwarded "for=$remote_addr;proto=$scheme;host=\"$http_host\"";
            proxy_set_header X-Real-IP $remote_addr;
            # The gateway returns the request id to the client.
            add_header X-Request-Id $request_id always;
        }}
    }}
}}
"#
    )
}

/// The server's TLS directives: the benchmark's certificate and key, and
/// the protocols the gateway accepts (TLS 1.2 and 1.3). Everything else
/// is nginx's default, as the gateway keeps rustls's: ciphers
/// `HIGH:!aNULL:!MD5` for TLS 1.2 and OpenSSL's TLS 1.3 suites, OpenSSL's
/// key-exchange groups, session tickets on (TLS 1.3 resumption), no
/// shared session cache.
fn tls_directives(files: &TlsFiles) -> String {
    format!(
        "\n        ssl_certificate {};\n        ssl_certificate_key {};\n        \
         ssl_protocols TLSv1.2 TLSv1.3;",
        files.cert.display(),
        files.key.display()
    )
}
