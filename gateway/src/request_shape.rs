//! The request shapes the gateway refuses before routing: ambiguous
//! framing, missing, repeated, invalid or conflicting hosts, an over-long
//! target, too many header fields, and (by policy) header names with `_`.
//!
//! Pure checks over a request head; the edge layer
//! (`layers::strict_request`) runs them and renders a [`ShapeError`].
//! hyper already refuses, before any of this runs: a `Transfer-Encoding`
//! whose last coding is not `chunked`, `Transfer-Encoding` in HTTP/1.0,
//! differing or invalid `Content-Length`s, obsolete line folding, a space
//! before the colon, invalid header bytes, a request line over 64 KiB
//! (414) and a head over the read buffer or header count (431). With both
//! `Transfer-Encoding: chunked` and `Content-Length`, hyper frames the body
//! as chunked, drops the `Content-Length` and closes the connection after
//! the response (RFC 9112 §6.3); the gateway never forwards either header.

use http::header::{HOST, TRANSFER_ENCODING};
use http::{HeaderMap, StatusCode, Uri, Version};

use crate::config::model::{RequestLimits, UnderscoreHeaders};
use crate::edge_error::GatewayError;

/// Why a request head was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("the request target is longer than {limit} bytes")]
    UriTooLong { limit: usize },
    #[error("the request has more than {limit} header fields")]
    TooManyHeaders { limit: usize },
    #[error("Transfer-Encoding must be exactly \"chunked\", sent once")]
    BadTransferEncoding,
    #[error("an HTTP/1.1 request needs a Host header")]
    MissingHost,
    #[error("the request has more than one Host header")]
    MultipleHosts,
    #[error("the Host header is not a valid host[:port]")]
    BadHost,
    #[error("the Host header does not match the request target's authority")]
    HostMismatch,
    #[error("header names containing '_' are not accepted")]
    UnderscoreHeader,
}

impl ShapeError {
    pub fn status(&self) -> StatusCode {
        match self {
            ShapeError::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            ShapeError::TooManyHeaders { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            ShapeError::UriTooLong { .. } => "URI_TOO_LONG",
            ShapeError::TooManyHeaders { .. } => "HEADERS_TOO_LARGE",
            ShapeError::BadTransferEncoding => "BAD_FRAMING",
            ShapeError::MissingHost => "MISSING_HOST",
            ShapeError::MultipleHosts => "MULTIPLE_HOSTS",
            ShapeError::BadHost => "BAD_HOST",
            ShapeError::HostMismatch => "HOST_MISMATCH",
            ShapeError::UnderscoreHeader => "UNDERSCORE_HEADER",
        }
    }
}

impl From<ShapeError> for GatewayError {
    fn from(error: ShapeError) -> Self {
        GatewayError::new(error.status(), error.code(), error.to_string())
    }
}

/// What the checks read of a request.
pub struct Head<'a> {
    pub version: Version,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
}

/// Runs every check, cheapest first. Linear in the head's size.
pub fn check(head: &Head<'_>, limits: &RequestLimits) -> Result<(), ShapeError> {
    if target_len(head.uri) > limits.max_uri_length {
        return Err(ShapeError::UriTooLong {
            limit: limits.max_uri_length,
        });
    }
    if head.headers.len() > limits.max_headers {
        return Err(ShapeError::TooManyHeaders {
            limit: limits.max_headers,
        });
    }
    check_framing(head)?;
    check_host(head)
}

/// The request target's length as the client sent it.
fn target_len(uri: &Uri) -> usize {
    let authority = uri.authority().map_or(0, |a| a.as_str().len());
    let scheme = uri.scheme_str().map_or(0, |s| s.len() + 3);
    scheme + authority + uri.path_and_query().map_or(0, |pq| pq.as_str().len())
}

/// `Transfer-Encoding`: one line, exactly `chunked` (HTTP/1.1 only; hyper
/// refuses it in HTTP/1.0, and h2 refuses it as a connection header).
fn check_framing(head: &Head<'_>) -> Result<(), ShapeError> {
    let mut lines = head.headers.get_all(TRANSFER_ENCODING).iter();
    match (lines.next(), lines.next()) {
        (None, _) => Ok(()),
        (Some(value), None) if value.as_bytes().eq_ignore_ascii_case(b"chunked") => Ok(()),
        _ => Err(ShapeError::BadTransferEncoding),
    }
}

/// One valid host; in HTTP/1.1 required, and equal to an absolute-form
/// target's authority; in HTTP/2, equal to `:authority` when both are sent.
fn check_host(head: &Head<'_>) -> Result<(), ShapeError> {
    let mut hosts = head.headers.get_all(HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (_, Some(_)) => return Err(ShapeError::MultipleHosts),
        (host, None) => host,
    };
    let authority = head.uri.authority().map(|a| a.as_str());
    if let Some(authority) = authority {
        valid_host(authority)?;
    }
    let Some(host) = host else {
        return match head.version {
            Version::HTTP_11 => Err(ShapeError::MissingHost),
            Version::HTTP_2 | Version::HTTP_3 if authority.is_none() => {
                Err(ShapeError::MissingHost)
            }
            _ => Ok(()),
        };
    };
    let host = host.to_str().map_err(|_| ShapeError::BadHost)?;
    valid_host(host)?;
    match authority {
        Some(authority) if !authority.eq_ignore_ascii_case(host) => Err(ShapeError::HostMismatch),
        _ => Ok(()),
    }
}

/// The bytes of a reg-name: letters, digits, `-`, `.`, `_`. A table, as
/// the check runs over every byte of every request's `Host` (callgrind:
/// `valid_host` went from 275 to 221 instructions a request).
const REG_NAME: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
        byte += 1;
    }
    table
};

/// `host[:port]`: a reg-name (letters, digits, `-`, `.`, `_`), an IPv4
/// address or a bracketed IPv6 address; no userinfo, no spaces; a port of
/// 1 to 5 digits that fits in 16 bits. Allocation-free: it runs on every
/// request.
pub fn valid_host(text: &str) -> Result<(), ShapeError> {
    let (host_ok, port) = if let Some(rest) = text.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, after)) => (ip.parse::<std::net::Ipv6Addr>().is_ok(), after),
            None => (false, ""),
        }
    } else {
        let end = text.find(':').unwrap_or(text.len());
        let (host, after) = text.split_at(end);
        let reg_name = !host.is_empty() && host.bytes().all(|b| REG_NAME[usize::from(b)]);
        (reg_name, after)
    };
    let port_ok = match port.strip_prefix(':') {
        None => port.is_empty(),
        Some(digits) => {
            (1..=5).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit())
                && digits.parse::<u16>().is_ok()
        }
    };
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(ShapeError::BadHost)
    }
}

/// Applies `server.headers_with_underscores`: removes such headers
/// (`Drop`), refuses the request (`Reject`) or keeps them (`Allow`).
pub fn underscore_headers(
    headers: &mut HeaderMap,
    policy: UnderscoreHeaders,
) -> Result<(), ShapeError> {
    if policy == UnderscoreHeaders::Allow || !headers.keys().any(|n| n.as_str().contains('_')) {
        return Ok(());
    }
    if policy == UnderscoreHeaders::Reject {
        return Err(ShapeError::UnderscoreHeader);
    }
    let names: Vec<_> = headers
        .keys()
        .filter(|n| n.as_str().contains('_'))
        .cloned()
        .collect();
    for name in names {
        headers.remove(name);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
