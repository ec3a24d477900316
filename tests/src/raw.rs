//! Raw sockets for the edge tests: HTTP/1 responses read by hand, HTTP/2
//! frames written and read by hand (so a test can send what no well-behaved
//! client would), and the gateway's own client-connection descriptors,
//! counted from `/proc` (the gateway runs in this process).

use std::collections::HashSet;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::mocks::within;

pub const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const CONTINUATION: u8 = 0x9;
pub const END_STREAM: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;

/// One HTTP/2 frame on the wire.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut bytes = Vec::with_capacity(9 + payload.len());
    bytes.extend_from_slice(&len.to_be_bytes()[1..]);
    bytes.push(kind);
    bytes.push(flags);
    bytes.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// An HPACK block for `GET {path}` on `localhost`, from the static table
/// (`:method GET`, `:scheme http`) and literals.
pub fn get_headers_block(path: &str) -> Vec<u8> {
    let mut block = vec![0x82, 0x86];
    // :path, literal without indexing, name index 4.
    block.push(0x04);
    block.push(path.len() as u8);
    block.extend_from_slice(path.as_bytes());
    // :authority, literal without indexing, name index 1.
    block.push(0x01);
    block.push(9);
    block.extend_from_slice(b"localhost");
    block
}

/// An HPACK literal header (new name, without indexing).
pub fn literal_header(name: &str, value: &str) -> Vec<u8> {
    let mut field = vec![0x00, name.len() as u8];
    field.extend_from_slice(name.as_bytes());
    field.push(value.len() as u8);
    field.extend_from_slice(value.as_bytes());
    field
}

/// Opens an h2c connection with prior knowledge: preface, empty SETTINGS.
pub async fn h2c_connect(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut hello = H2_PREFACE.to_vec();
    hello.extend(frame(SETTINGS, 0, 0, &[]));
    stream.write_all(&hello).await.expect("send the preface");
    stream
}

/// A frame read back: type, flags, stream, payload.
#[derive(Debug)]
pub struct ReadFrame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

/// The next frame, or `None` at end of stream (or a reset).
pub async fn read_frame(stream: &mut TcpStream) -> Option<ReadFrame> {
    let mut head = [0u8; 9];
    stream.read_exact(&mut head).await.ok()?;
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await.ok()?;
    Some(ReadFrame {
        kind: head[3],
        flags: head[4],
        stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
        payload,
    })
}

/// Reads frames until a GOAWAY (returned) or the end of the connection
/// (`None`), failing the test if neither comes in time.
pub async fn until_goaway(stream: &mut TcpStream) -> Option<ReadFrame> {
    within("a GOAWAY or the end of the connection", async {
        loop {
            let frame = read_frame(stream).await?;
            if frame.kind == GOAWAY {
                return Some(frame);
            }
        }
    })
    .await
}

/// Reads everything until the peer closes (a reset counts as closed).
pub async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    within("the gateway to close the connection", async {
        let mut received = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return received,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
}

/// One HTTP/1.1 response read by hand: status and body (by
/// `content-length`). `None` if the connection closed first.
pub async fn read_http1_response(stream: &mut TcpStream) -> Option<(u16, Vec<u8>)> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        received.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&received[..head_end]).to_lowercase();
    let status = head.get(9..12)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while received.len() < head_end + length {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        received.extend_from_slice(&buf[..n]);
    }
    Some((status, received[head_end..head_end + length].to_vec()))
}

/// A keep-alive `GET {path}` on an open HTTP/1.1 socket.
pub async fn http1_get(stream: &mut TcpStream, path: &str) -> Option<(u16, Vec<u8>)> {
    let request = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    within("an HTTP/1.1 response", read_http1_response(stream)).await
}

/// How many descriptors this process holds for TCP connections whose
/// local port is `port`: the gateway's client connections on its
/// listener (client sockets in the tests have ephemeral local ports).
pub fn connection_fds(port: u16) -> usize {
    let inodes = socket_inodes_on_local_port(port);
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| std::fs::read_link(entry.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            target
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse::<u64>()
                .ok()
        })
        .filter(|inode| inodes.contains(inode))
        .count()
}

/// Inodes of non-listening TCP sockets bound to local `port`.
fn socket_inodes_on_local_port(port: u16) -> HashSet<u64> {
    let mut inodes = HashSet::new();
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let local_port = local
                .rsplit(':')
                .next()
                .and_then(|hex| u16::from_str_radix(hex, 16).ok());
            if local_port == Some(port)
                && *state != "0A"
                && let Ok(inode) = inode.parse()
            {
                inodes.insert(inode);
            }
        }
    }
    inodes
}

/// Writes `bytes` for at most `limit`: a flood may stop being read.
pub async fn write_for_at_most(stream: &mut TcpStream, bytes: &[u8], limit: Duration) {
    let _ = tokio::time::timeout(limit, stream.write_all(bytes)).await;
}

/// One h2c `GET {path}` on a connection of its own, closed afterwards
/// (a pooled client would keep it open and blur descriptor counts).
pub async fn h2c_get(addr: std::net::SocketAddr, path: &str) -> u16 {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2c handshake");
    let driver = tokio::spawn(connection);
    let request = http::Request::get(format!("http://localhost{path}"))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .expect("a request");
    let status = within("an h2c response", sender.send_request(request))
        .await
        .expect("an h2c response")
        .status()
        .as_u16();
    driver.abort();
    status
}
