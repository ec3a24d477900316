//! A plain-HTTP request sent to the TLS listener (`curl http://host:443`,
//! a health check pointed at the wrong scheme): answered with the
//! gateway's `400 PLAIN_HTTP_ON_TLS_PORT` in plain HTTP, as nginx ("The
//! plain HTTP request was sent to HTTPS port") and Go's servers do, rather
//! than a TLS alert the client cannot read and a closed connection.
//!
//! The connection's first byte tells: a TLS record starts with 0x16 (a
//! handshake; 0x80 for an SSLv2-style hello), an HTTP/1 request with its
//! method's first letter. It is peeked before the handshake, so a TLS
//! client pays one `recvfrom(MSG_PEEK)` per connection (nginx peeks the
//! same way) and nothing after. (The listener reads no PROXY protocol
//! header, whose `PROXY` would look like a method: should it ever, that
//! header comes off before this check.)

use std::net::SocketAddr;

use http::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::lingering_close;
use crate::edge_error::raw_http1_error;
use crate::observe::{RefusedHead, SharedRefusals};

/// The answer's `error.code`.
pub const CODE: &str = "PLAIN_HTTP_ON_TLS_PORT";

const MESSAGE: &str =
    "this port speaks HTTPS and the request was sent as plain HTTP: use an https:// URL";

/// Whether a connection whose first byte is `first` is a plain HTTP/1
/// request: every method is a token, and the registered ones (and `PRI`,
/// HTTP/2's preface) are upper-case letters; no TLS record type is.
pub fn looks_like_plain_http(first: u8) -> bool {
    first.is_ascii_uppercase()
}

/// The first byte waiting on `stream`, without taking it; `None` at end
/// of stream or on an error.
pub async fn peek_first_byte(stream: &TcpStream) -> Option<u8> {
    let mut first = [0u8; 1];
    match stream.peek(&mut first).await {
        Ok(1) => Some(first[0]),
        _ => None,
    }
}

/// Writes the error, reports it to the listener's observers, shuts the
/// write side and discards what the client still sends for a bounded
/// time (so its unread request does not turn our close into a reset that
/// destroys the answer).
pub async fn answer(
    mut stream: TcpStream,
    peer: SocketAddr,
    refusals: &SharedRefusals,
    accepted: Instant,
) {
    let request_id = uuid::Uuid::new_v4().to_string();
    let answer = raw_http1_error(StatusCode::BAD_REQUEST, CODE, MESSAGE, &request_id);
    tracing::debug!(%peer, %request_id, "plain HTTP on the TLS listener; answered 400");
    if let Some(refusals) = refusals {
        refusals.refused(&RefusedHead::answered(
            peer,
            StatusCode::BAD_REQUEST,
            CODE,
            &request_id,
            &answer,
            accepted.elapsed(),
        ));
    }
    if stream.write_all(&answer).await.is_err() {
        return;
    }
    let mut lingering = None;
    let _ = std::future::poll_fn(|cx| lingering_close::poll_close(&mut stream, &mut lingering, cx))
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_plain_http_and_tls_records_are_not() {
        for method in [
            "GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH", "PRI",
        ] {
            assert!(looks_like_plain_http(method.as_bytes()[0]), "{method}");
        }
        // Handshake, alert, change cipher spec, application data, SSLv2 hello.
        for first in [0x16, 0x15, 0x14, 0x17, 0x80] {
            assert!(!looks_like_plain_http(first), "{first:#x}");
        }
    }
}
