//! Binding a listener with an explicit accept queue, and the socket
//! options every accepted client connection gets.
//!
//! `TcpListener::bind` listens with a backlog of 128 (Rust's default):
//! a burst of connects then overflows the queue and clients wait for SYN
//! retransmits. The gateway asks for `server.listen_backlog` (4096 by
//! default); Linux silently caps it at `net.core.somaxconn`, which is
//! logged at start when lower.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// TCP keep-alive on client connections: a peer that vanished (no FIN,
/// no RST) is found in about 2 minutes, even on a quiet long-lived stream.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_PROBES: u32 = 6;

/// Binds `addr` and listens with `backlog` pending connections.
pub fn bind(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    warn_if_capped(backlog);
    socket.listen(backlog)
}

fn warn_if_capped(backlog: u32) {
    let Some(somaxconn) = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
    else {
        return;
    };
    if somaxconn < backlog {
        tracing::info!(
            backlog,
            somaxconn,
            "the kernel caps the listen backlog at net.core.somaxconn"
        );
    }
}

/// Options for a freshly accepted client connection.
pub fn configure_accepted(stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
    let keepalive = TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_PROBES);
    let _ = SockRef::from(stream).set_tcp_keepalive(&keepalive);
}
