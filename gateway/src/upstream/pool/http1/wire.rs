//! The HTTP/1.1 wire format of an upstream exchange without a request
//! body (RFC 9112): the request head written, the response head parsed
//! with `httparse` (hyper's own parser) and its body framed, with the
//! rules hyper's client applies to the same messages and a few stricter
//! ones where a lenient reading could desynchronise a kept-alive
//! connection:
//! - 1xx heads are skipped (101 is refused: no upgrade was asked for);
//! - HEAD, 204 and 304 have no body, whatever the head says;
//! - `Transfer-Encoding` ending in `chunked` frames the body; any other
//!   transfer coding is read until the connection closes; with
//!   `Transfer-Encoding` the `Content-Length` is removed and the
//!   connection is not reused (RFC 9112 §6.3, item 3);
//! - every `Content-Length` value must be the same run of digits;
//! - neither header: the body runs until the connection closes;
//! - chunk-size lines end in CRLF, have at most 16 hex digits and a
//!   bounded length; chunk data ends in CRLF; trailers are bounded.

use std::mem::MaybeUninit;
use std::ops::Range;

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version, header};
use smallvec::SmallVec;

/// Most header lines a response head (or a trailer section) may have:
/// hyper's default.
pub(super) const MAX_HEADERS: usize = 100;

/// Largest response head, from the status line to its blank line
/// (nginx refuses an upstream head past its 4-8 KiB `proxy_buffer_size`).
pub(super) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Most informational (1xx) heads before the final one.
pub(super) const MAX_INFORMATIONAL: usize = 8;

/// Longest chunk-size line, extensions included.
const MAX_CHUNK_LINE: usize = 4 * 1024;

/// Largest trailer section.
const MAX_TRAILER_BYTES: usize = 16 * 1024;

/// Why a response could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(in crate::upstream) enum WireError {
    #[error("malformed response head: {0}")]
    MalformedHead(httparse::Error),
    #[error("the response head is larger than {MAX_HEAD_BYTES} bytes")]
    HeadTooLarge,
    #[error("the response head has more than {MAX_HEADERS} header lines")]
    TooManyHeaders,
    #[error("more than {MAX_INFORMATIONAL} informational responses")]
    TooManyInformational,
    #[error("a 101 Switching Protocols response to a request that asked for no upgrade")]
    UnexpectedUpgrade,
    #[error("an invalid header in the response head")]
    InvalidHeader,
    #[error("an invalid Content-Length")]
    InvalidContentLength,
    #[error("Transfer-Encoding in an HTTP/1.0 response")]
    TransferEncodingInHttp10,
    #[error("an invalid chunk size line")]
    InvalidChunkSize,
    #[error("chunk data not followed by CRLF")]
    InvalidChunkEnd,
    #[error("invalid or oversized chunked trailers")]
    InvalidTrailers,
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body (HEAD, 1xx, 204, 304, or `Content-Length: 0`).
    Empty,
    Length(u64),
    Chunked,
    /// Until the server closes the connection.
    UntilClose,
}

/// A final response head.
#[derive(Debug)]
pub(super) struct ResponseHead {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    pub framing: Framing,
    /// The connection may carry another request once the body has ended.
    pub keep_alive: bool,
}

/// Writes the head of a request without a body into `out` (cleared
/// first): the request line with `target` (origin form), then every
/// header but `Transfer-Encoding`, which a bodiless request must not
/// carry (hyper removes it too).
pub(super) fn encode_request_head(
    out: &mut Vec<u8>,
    method: &Method,
    target: &str,
    headers: &HeaderMap,
) {
    out.clear();
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        if name == header::TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// What [`parse_head`] found at the front of the buffer.
#[derive(Debug)]
pub(super) enum Parsed {
    /// The head is not complete yet: read more.
    Partial,
    /// An informational (1xx) head, consumed: parse again.
    Informational,
    Final(ResponseHead),
}

/// Parses the response head at the front of `buf`, and consumes it when
/// complete (the header values then share its bytes). `method` is the
/// request's (a HEAD response has no body).
pub(super) fn parse_head(buf: &mut BytesMut, method: &Method) -> Result<Parsed, WireError> {
    // Left uninitialised: httparse writes the lines it parses (3 KiB of
    // zeroes per response otherwise).
    let mut lines = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        buf,
        &mut lines,
    );
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
            return Err(WireError::HeadTooLarge);
        }
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(httparse::Error::TooManyHeaders) => return Err(WireError::TooManyHeaders),
        Err(error) => return Err(WireError::MalformedHead(error)),
    };
    if len > MAX_HEAD_BYTES {
        return Err(WireError::HeadTooLarge);
    }
    let code = response.code.unwrap_or_default();
    let status = StatusCode::from_u16(code)
        .map_err(|_| WireError::MalformedHead(httparse::Error::Status))?;
    let version = match response.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    match code {
        101 => return Err(WireError::UnexpectedUpgrade),
        100..=199 => {
            buf.advance(len);
            return Ok(Parsed::Informational);
        }
        _ => {}
    }
    // Where each name and value sits in the head, so that the values can
    // share the head's bytes once it is split off.
    let start = buf.as_ptr() as usize;
    let offset = |part: &[u8]| part.as_ptr() as usize - start;
    let spans: SmallVec<[HeaderSpan; 24]> = response
        .headers
        .iter()
        .map(|line| {
            let (name, value) = (offset(line.name.as_bytes()), offset(line.value));
            HeaderSpan {
                name: name..name + line.name.len(),
                value: value..value + line.value.len(),
            }
        })
        .collect();
    let head = buf.split_to(len).freeze();
    let mut headers = HeaderMap::with_capacity(spans.len());
    let mut seen = Seen::default();
    for span in spans {
        let name =
            HeaderName::from_bytes(&head[span.name]).map_err(|_| WireError::InvalidHeader)?;
        let value = HeaderValue::from_maybe_shared(head.slice(span.value))
            .map_err(|_| WireError::InvalidHeader)?;
        seen.note(&name);
        headers.append(name, value);
    }
    let (framing, framing_allows_reuse) = framing(status, version, method, &mut headers, seen)?;
    let keep_alive =
        framing_allows_reuse && connection_persists(version, &headers, seen.connection);
    Ok(Parsed::Final(ResponseHead {
        status,
        version,
        headers,
        framing,
        keep_alive,
    }))
}

/// Where one header line's name and value sit in the head.
struct HeaderSpan {
    name: Range<usize>,
    value: Range<usize>,
}

/// Which of the headers that decide framing and reuse the head has (so
/// that a head without them costs no lookup).
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    transfer_encoding: bool,
    content_length: bool,
    connection: bool,
}

impl Seen {
    fn note(&mut self, name: &HeaderName) {
        if name == header::CONTENT_LENGTH {
            self.content_length = true;
        } else if name == header::TRANSFER_ENCODING {
            self.transfer_encoding = true;
        } else if name == header::CONNECTION {
            self.connection = true;
        }
    }
}

/// The body's framing, and whether it leaves the connection reusable.
fn framing(
    status: StatusCode,
    version: Version,
    method: &Method,
    headers: &mut HeaderMap,
    seen: Seen,
) -> Result<(Framing, bool), WireError> {
    if matches!(status.as_u16(), 204 | 304) || method == Method::HEAD {
        return Ok((Framing::Empty, true));
    }
    if seen.transfer_encoding {
        if version == Version::HTTP_10 {
            return Err(WireError::TransferEncodingInHttp10);
        }
        // Both framings: the transfer coding wins, the length goes, and
        // the connection is closed after this response.
        let both = headers.remove(header::CONTENT_LENGTH).is_some();
        return Ok(if ends_in_chunked(headers) {
            (Framing::Chunked, !both)
        } else {
            (Framing::UntilClose, false)
        });
    }
    if seen.content_length {
        return match content_length(headers) {
            Some(0) => Ok((Framing::Empty, true)),
            Some(length) => Ok((Framing::Length(length), true)),
            None => Err(WireError::InvalidContentLength),
        };
    }
    Ok((Framing::UntilClose, false))
}

/// Whether the last transfer coding is `chunked`.
fn ends_in_chunked(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .next_back()
        .and_then(|value| value.as_bytes().rsplit(|byte| *byte == b',').next())
        .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"))
}

/// The one length every `Content-Length` value (and list element) gives;
/// `None` when one is not a run of digits or two differ.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    let mut length = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for part in value.as_bytes().split(|byte| *byte == b',') {
            let digits = part.trim_ascii();
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let parsed = std::str::from_utf8(digits).ok()?.parse::<u64>().ok()?;
            if length.is_some_and(|seen| seen != parsed) {
                return None;
            }
            length = Some(parsed);
        }
    }
    length
}

/// HTTP/1.1 persists unless `Connection: close`; HTTP/1.0 only with
/// `Connection: keep-alive`.
fn connection_persists(version: Version, headers: &HeaderMap, has_connection: bool) -> bool {
    let has = |token: &[u8]| {
        has_connection
            && headers.get_all(header::CONNECTION).iter().any(|value| {
                value
                    .as_bytes()
                    .split(|byte| *byte == b',')
                    .any(|part| part.trim_ascii().eq_ignore_ascii_case(token))
            })
    };
    if version == Version::HTTP_10 {
        has(b"keep-alive")
    } else {
        !has(b"close")
    }
}

/// A piece of a chunked body.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ChunkEvent {
    Data(Bytes),
    Trailers(HeaderMap),
    End,
}

/// The chunked body decoder: fed the connection's buffer, it consumes
/// what it decodes.
#[derive(Debug, Default)]
pub(super) struct ChunkedDecoder {
    state: ChunkState,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    #[default]
    Size,
    Data(u64),
    DataEnd,
    Trailers,
    Done,
}

impl ChunkedDecoder {
    /// The next piece decoded from the front of `buf`, or `None` when
    /// more bytes are needed.
    pub(super) fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<ChunkEvent>, WireError> {
        loop {
            match self.state {
                ChunkState::Size => {
                    let Some(size) = chunk_size(buf)? else {
                        return Ok(None);
                    };
                    self.state = if size == 0 {
                        ChunkState::Trailers
                    } else {
                        ChunkState::Data(size)
                    };
                }
                ChunkState::Data(left) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    let data = buf.split_to(take).freeze();
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left)
                    };
                    return Ok(Some(ChunkEvent::Data(data)));
                }
                ChunkState::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(None);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(WireError::InvalidChunkEnd);
                    }
                    buf.advance(2);
                    self.state = ChunkState::Size;
                }
                ChunkState::Trailers => {
                    let Some(trailers) = trailers(buf)? else {
                        return Ok(None);
                    };
                    self.state = ChunkState::Done;
                    if !trailers.is_empty() {
                        return Ok(Some(ChunkEvent::Trailers(trailers)));
                    }
                }
                ChunkState::Done => return Ok(Some(ChunkEvent::End)),
            }
        }
    }
}

/// Consumes a chunk-size line (`1a;ext=v\r\n`) and gives its size; `None`
/// when the line is not complete yet.
fn chunk_size(buf: &mut BytesMut) -> Result<Option<u64>, WireError> {
    let Some(lf) = memchr::memchr(b'\n', buf) else {
        return if buf.len() > MAX_CHUNK_LINE {
            Err(WireError::InvalidChunkSize)
        } else {
            Ok(None)
        };
    };
    if lf == 0 || lf > MAX_CHUNK_LINE || buf[lf - 1] != b'\r' {
        return Err(WireError::InvalidChunkSize);
    }
    let line = &buf[..lf - 1];
    let digits = line
        .iter()
        .take_while(|byte| byte.is_ascii_hexdigit())
        .count();
    if digits == 0 || digits > 16 {
        return Err(WireError::InvalidChunkSize);
    }
    // After the size: nothing, or extensions after optional blanks. Their
    // content is ignored but must hold no control byte (a CR, a NUL).
    let rest = &line[digits..];
    let extension = rest.trim_ascii_start();
    let clean = rest.is_empty()
        || (extension.first() == Some(&b';')
            && extension
                .iter()
                .all(|byte| *byte == b'\t' || (0x20..0x7f).contains(byte) || *byte >= 0x80));
    if !clean {
        return Err(WireError::InvalidChunkSize);
    }
    let text = std::str::from_utf8(&line[..digits]).map_err(|_| WireError::InvalidChunkSize)?;
    let size = u64::from_str_radix(text, 16).map_err(|_| WireError::InvalidChunkSize)?;
    buf.advance(lf + 1);
    Ok(Some(size))
}

/// Consumes the trailer section after the last chunk (possibly empty: a
/// lone CRLF); `None` when it is not complete yet.
fn trailers(buf: &mut BytesMut) -> Result<Option<HeaderMap>, WireError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    if &buf[..2] == b"\r\n" {
        buf.advance(2);
        return Ok(Some(HeaderMap::new()));
    }
    let mut lines = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let (len, parsed) = match httparse::parse_headers(buf, &mut lines) {
        Ok(httparse::Status::Complete(done)) => done,
        Ok(httparse::Status::Partial) if buf.len() > MAX_TRAILER_BYTES => {
            return Err(WireError::InvalidTrailers);
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(WireError::InvalidTrailers),
    };
    if len > MAX_TRAILER_BYTES {
        return Err(WireError::InvalidTrailers);
    }
    let mut trailers = HeaderMap::with_capacity(parsed.len());
    for line in parsed {
        let name =
            HeaderName::from_bytes(line.name.as_bytes()).map_err(|_| WireError::InvalidTrailers)?;
        let value = HeaderValue::from_bytes(line.value).map_err(|_| WireError::InvalidTrailers)?;
        trailers.append(name, value);
    }
    buf.advance(len);
    Ok(Some(trailers))
}

#[cfg(test)]
mod tests;
