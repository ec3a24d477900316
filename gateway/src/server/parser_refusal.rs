//! hyper's own answer to an HTTP/1 request head its parser refuses,
//! replaced by the gateway's error.
//!
//! hyper answers a head it cannot parse (a malformed request line or
//! header, a `Content-Length` that is not one number, a
//! `Transfer-Encoding` that does not end in `chunked`, a head over the
//! size limit) with a bare `400` or `431` and no body, then closes the
//! connection; the gateway's service never sees the request, and hyper
//! offers no hook to answer otherwise. The socket wrapper
//! ([`super::head_deadline`]) recognises that answer as it is written
//! (the exact head hyper writes, at a moment when no request is in flight
//! and everything before it was flushed) and writes the gateway's error
//! in its place: the same status, a JSON body with a stable `code`, a
//! message and a request id, `Connection: close`.
//!
//! The shape checked is hyper 1.x's: `HTTP/1.1 <status> <reason>`, then
//! only `connection: close`, `content-length: 0` and `date`. A response
//! the gateway's service produced always carries `x-request-id`, so it is
//! never taken for one.

use http::StatusCode;

/// Longest head hyper writes for a refusal (status line and three short
/// headers); anything longer is not one.
const MAX_REFUSAL_HEAD: usize = 192;

/// The gateway's error for a refused head: status, code and message.
pub(super) type Refusal = (StatusCode, &'static str, &'static str);

/// The gateway's error to write instead of `written`, when `written` is
/// hyper's answer to a refused head. `line_ended`: the head's request
/// line had ended; a head over the size limit before that is a request
/// target too long, answered 414 as nginx does (hyper says 431).
pub(super) fn replacement(written: &[u8], line_ended: bool) -> Option<Refusal> {
    // The usual write (a response head starting `HTTP/1.1 2`, or body
    // bytes) is told apart by its first bytes.
    let status = written.strip_prefix(b"HTTP/1.1 ")?.get(..3)?;
    let (status, code, message) = match status {
        b"400" => (
            StatusCode::BAD_REQUEST,
            "MALFORMED_REQUEST",
            "the request head is not valid HTTP/1.1: a malformed request line or header field, \
             a Content-Length that is not one number, or a Transfer-Encoding that does not end \
             in chunked",
        ),
        b"431" if !line_ended => (
            StatusCode::URI_TOO_LONG,
            "URI_TOO_LONG",
            "the request line is longer than max_header_bytes: the request target is too long",
        ),
        b"431" => (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "HEADERS_TOO_LARGE",
            "the request head is larger than max_header_bytes or has more fields than max_headers",
        ),
        b"414" => (
            StatusCode::URI_TOO_LONG,
            "URI_TOO_LONG",
            "the request target is longer than max_uri_length",
        ),
        _ => return None,
    };
    if written.len() > MAX_REFUSAL_HEAD || !is_bare_refusal(written) {
        return None;
    }
    Some((status, code, message))
}

/// Whether `head` is a whole head with only hyper's refusal headers.
fn is_bare_refusal(head: &[u8]) -> bool {
    let Some(head) = head.strip_suffix(b"\r\n\r\n") else {
        return false;
    };
    let mut lines = head.split(|&b| b == b'\n');
    // The status line was checked by the caller.
    lines.next();
    let mut content_length_zero = false;
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let lower = line.to_ascii_lowercase();
        if lower == b"content-length: 0" {
            content_length_zero = true;
        } else if lower != b"connection: close" && !lower.starts_with(b"date: ") {
            return false;
        }
    }
    content_length_zero
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYPER_400: &[u8] = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 03:20:02 GMT\r\n\r\n";
    const HYPER_431: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 03:20:02 GMT\r\n\r\n";

    fn code(written: &[u8]) -> (u16, &'static str) {
        let (status, code, _) = replacement(written, true).expect("replaced");
        (status.as_u16(), code)
    }

    #[test]
    fn hypers_refusals_become_the_gateways_errors() {
        assert_eq!(code(HYPER_400), (400, "MALFORMED_REQUEST"));
        assert_eq!(code(HYPER_431), (431, "HEADERS_TOO_LARGE"));
        let long = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(code(long), (414, "URI_TOO_LONG"));
        // Over the size limit before the request line ended: the target.
        let (status, code, _) = replacement(HYPER_431, false).expect("replaced");
        assert_eq!((status.as_u16(), code), (414, "URI_TOO_LONG"));
    }

    #[test]
    fn anything_else_is_written_as_it_is() {
        for written in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\nx-request-id: 1\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
            b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n",
            b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 4",
            b"0\r\n\r\n",
            b"{\"id\":1}",
            b"",
        ] {
            assert!(
                replacement(written, true).is_none(),
                "{}",
                String::from_utf8_lossy(written)
            );
        }
    }
}
