//! A raw HTTP/1.x client for probing the gateway the way an attacker
//! would: exact bytes out, the response (or the connection's end) back.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a probe waits for the whole answer.
const PROBE_DEADLINE: Duration = Duration::from_secs(10);

/// One parsed response.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    /// The first value of `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// `error.code` of a REST error body.
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// Everything the server sent on one connection after `request` was
/// written, until it closed the connection (or the deadline): every
/// response, in order.
pub async fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<RawResponse> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write request");
    let mut received = Vec::new();
    let read_all = async {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(PROBE_DEADLINE, read_all).await;
    parse_responses(&received)
}

/// The first response to `request`, sent on its own connection; the
/// request should ask for `Connection: close` (or be refused) so the
/// server ends the connection.
pub async fn send(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let responses = exchange(addr, request).await;
    responses
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no response to {:?}", String::from_utf8_lossy(request)))
}

/// Splits a byte stream into responses (Content-Length or chunked bodies).
pub fn parse_responses(mut bytes: &[u8]) -> Vec<RawResponse> {
    let mut responses = Vec::new();
    while let Some(end) = find(bytes, b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let rest = &bytes[end + 4..];
        let (body, used) = read_body(&headers, rest);
        responses.push(RawResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        bytes = &rest[used..];
    }
    responses
}

fn read_body(headers: &[(String, String)], rest: &[u8]) -> (Vec<u8>, usize) {
    let value = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if value("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return dechunk(rest);
    }
    let len = value("content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(rest.len())
        .min(rest.len());
    (rest[..len].to_vec(), len)
}

fn dechunk(mut rest: &[u8]) -> (Vec<u8>, usize) {
    let total = rest.len();
    let mut body = Vec::new();
    while let Some(line_end) = find(rest, b"\r\n") {
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        rest = &rest[line_end + 2..];
        if size == 0 {
            let trailer_end = find(rest, b"\r\n").map_or(rest.len(), |i| i + 2);
            rest = &rest[trailer_end..];
            break;
        }
        let take = size.min(rest.len());
        body.extend_from_slice(&rest[..take]);
        rest = &rest[(take + 2).min(rest.len())..];
    }
    (body, total - rest.len())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
