//! The gateway's HTTP/1.1 exchange with a backend, through the real
//! gateway against a backend that writes exact bytes: every framing
//! relayed (a chunked connection reused, trailers and all), malformed or
//! ambiguous responses refused with 502 (nothing of the backend shown), an
//! unsolicited 101 refused, a stray response never handed to the next
//! request, connections the backend closes replaced, and a body cut short
//! aborting the client's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use tests::gateway::TestGateway;
use tests::mocks::within;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A backend answering each request with the reply its path names
/// (`/chunked`, `/stray`, ...), counting connections.
async fn scripted_backend() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(stream));
        }
    });
    (addr, connections)
}

async fn serve(mut stream: TcpStream) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") else {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&seen[..end]).into_owned();
        seen.drain(..end + 4);
        let path = head.split(' ').nth(1).unwrap_or("/");
        let (reply, close): (&[u8], bool) = match path {
            "/chunked" => (
                b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n\
                  6\r\nchunk \r\n7;ext=1\r\nof text\r\n0\r\nx-trailer: t\r\n\r\n",
                false,
            ),
            "/until-close" => (b"HTTP/1.1 200 OK\r\n\r\nuntil the end", true),
            "/stray" => (
                b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello\
                  HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstray",
                false,
            ),
            "/close-after" => (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", true),
            "/two-lengths" => (
                b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd",
                false,
            ),
            "/upgrade" => (b"HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\n\r\n", false),
            "/bad-header" => (b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n", false),
            "/cut-head" => (b"HTTP/1.1 200 OK\r\ncontent-le", true),
            "/cut-body" => (b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten..", true),
            "/bad-chunk" => (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhelloXX",
                true,
            ),
            "/te-and-cl" => (
                b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n\
                  5\r\nhello\r\n0\r\n\r\n",
                false,
            ),
            "/te-gzip" => (b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nraw bytes", true),
            "/folded" => (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: 1\r\n folded\r\n\r\nhello", false),
            "/many-headers" => (MANY_HEADERS.get_or_init(many_headers).as_bytes(), false),
            "/huge-header" => (HUGE_HEADER.get_or_init(huge_header).as_bytes(), false),
            "/hop-by-hop" => (
                b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: x-internal, keep-alive\r\n\
                  x-internal: secret\r\nkeep-alive: timeout=5\r\nproxy-connection: keep-alive\r\n\
                  upgrade: h2c\r\ntrailer: x-t\r\nx-kept: yes\r\n\r\nhello",
                false,
            ),
            "/early-hints" => (
                b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n\
                  HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
                false,
            ),
            "/no-content-with-body" => (
                b"HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\nstray",
                false,
            ),
            "/http10" => (b"HTTP/1.0 200 OK\r\ncontent-length: 5\r\n\r\nhello", false),
            _ => (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", false),
        };
        if stream.write_all(reply).await.is_err() || close {
            return;
        }
    }
}

static MANY_HEADERS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
static HUGE_HEADER: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// A response with 500 header lines.
fn many_headers() -> String {
    let lines: String = (0..500).map(|i| format!("x-h{i}: v\r\n")).collect();
    format!("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n{lines}\r\nhello")
}

/// A response with a 1 MiB header value.
fn huge_header() -> String {
    let value = "v".repeat(1 << 20);
    format!("HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-huge: {value}\r\n\r\nhello")
}

/// The gateway with one catch-all route to a scripted backend: the
/// gateway, the backend's address, and its connection count.
async fn gateway_and_scripted_backend() -> (TestGateway, SocketAddr, Arc<AtomicUsize>) {
    let (backend, connections) = scripted_backend().await;
    let gw = TestGateway::start(&routes(backend)).await;
    (gw, backend, connections)
}

fn routes(backend: SocketAddr) -> String {
    format!(
        r#"
backends:
  scripted: {{ url: "http://{backend}" }}
routes:
  - path: /{{*rest}}
    backend: scripted
"#
    )
}

#[tokio::test]
async fn chunked_and_close_delimited_bodies_are_relayed_whole() {
    let (gw, _, connections) = gateway_and_scripted_backend().await;
    for _ in 0..3 {
        let response = gw.client.get(gw.url("/chunked")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "chunk of text");
    }
    // The chunked responses shared one upstream connection.
    assert_eq!(connections.load(Ordering::SeqCst), 1);
    let response = gw.client.get(gw.url("/until-close")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "until the end");
}

/// `response` is the gateway's 502 for a backend's bad answer: the stable
/// code, the request id, and nothing of the backend or of what it sent.
/// A bad answer is the backend's 502, which the default retry policy does
/// not retry (a connection lost mid-head is a reset, which it does).
async fn assert_refused(response: reqwest::Response, backend: SocketAddr, path: &str) {
    assert_eq!(response.status(), 502, "{path}");
    let attempts = if path == "/cut-head" { "2" } else { "1" };
    assert_eq!(response.headers()["x-gateway-attempts"], attempts, "{path}");
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        body["error"]["code"], "UPSTREAM_UNAVAILABLE",
        "{path}: {body}"
    );
    assert_eq!(body["error"]["request_id"], request_id.as_str(), "{path}");
    // (Only texts a request id cannot hold by chance.)
    for leak in [
        backend.to_string().as_str(),
        "Content-Length",
        "Transfer-Encoding",
        "Switching",
    ] {
        assert!(!text.contains(leak), "{path}: {text}");
    }
}

#[tokio::test]
async fn malformed_or_ambiguous_responses_are_502_without_backend_details() {
    let (gw, backend, _) = gateway_and_scripted_backend().await;
    for path in ["/two-lengths", "/upgrade", "/bad-header", "/cut-head"] {
        let response = gw.client.get(gw.url(path)).send().await.unwrap();
        assert_refused(response, backend, path).await;
    }
}

#[tokio::test]
async fn a_101_nobody_asked_for_is_502_for_a_request_with_a_body_too() {
    let (gw, backend, _) = gateway_and_scripted_backend().await;
    let response = gw
        .client
        .post(gw.url("/upgrade"))
        .body("a body")
        .send()
        .await
        .unwrap();
    assert_refused(response, backend, "POST /upgrade").await;
}

#[tokio::test]
async fn a_stray_response_is_never_the_answer_to_the_next_request() {
    let (gw, _, connections) = gateway_and_scripted_backend().await;
    for path in ["/stray", "/next", "/next"] {
        let response = gw.client.get(gw.url(path)).send().await.unwrap();
        assert_eq!(response.text().await.unwrap(), "hello", "{path}");
    }
    // The connection with the stray bytes was closed, not reused.
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn connections_the_backend_closes_after_each_response_are_replaced() {
    let (gw, _, connections) = gateway_and_scripted_backend().await;
    for _ in 0..5 {
        let response = gw.client.get(gw.url("/close-after")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "hello");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn a_body_cut_short_aborts_the_clients_response() {
    let (gw, _, _) = gateway_and_scripted_backend().await;
    for path in ["/cut-body", "/bad-chunk"] {
        // The client's response fails: before its head when the failure
        // comes in the same read as the first bytes, else in its body.
        if let Ok(response) = gw.client.get(gw.url(path)).send().await {
            assert_eq!(response.status(), 200, "{path}");
            let body = within("the body to fail", response.bytes()).await;
            assert!(body.is_err(), "{path}: {body:?}");
        }
    }
    // The gateway still serves.
    let response = gw.client.get(gw.url("/next")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "hello");
}

#[tokio::test]
async fn heads_that_cannot_be_forwarded_faithfully_are_502() {
    let (gw, backend, _) = gateway_and_scripted_backend().await;
    // Both framings (nginx refuses it too), a transfer coding the client
    // would get undecoded, an obsolete line fold, and heads past hyper's
    // bounds (header lines; head size: a 1 MiB value is never buffered).
    for path in [
        "/te-and-cl",
        "/te-gzip",
        "/folded",
        "/many-headers",
        "/huge-header",
    ] {
        let response = gw.client.get(gw.url(path)).send().await.unwrap();
        assert_refused(response, backend, path).await;
    }
}

#[tokio::test]
async fn the_client_hears_the_gateways_http_version_not_the_backends() {
    let (gw, _, _) = gateway_and_scripted_backend().await;
    let mut client = TcpStream::connect(gw.gateway.addr).await.unwrap();
    // Two requests on one connection: kept alive, HTTP/1.1 both times.
    for _ in 0..2 {
        let (status, body) = tests::raw::http1_get(&mut client, "/http10")
            .await
            .expect("a response on the kept-alive connection");
        assert_eq!((status, body.as_slice()), (200, &b"hello"[..]));
    }
    client
        .write_all(b"GET /http10 HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let last = tests::raw::read_until_closed(&mut client).await;
    let last = String::from_utf8_lossy(&last);
    assert!(last.starts_with("HTTP/1.1 200 OK\r\n"), "{last:?}");
    assert!(last.ends_with("\r\n\r\nhello"), "{last:?}");
}

#[tokio::test]
async fn hop_by_hop_headers_stay_behind_and_informational_heads_are_skipped() {
    let (gw, _, _) = gateway_and_scripted_backend().await;
    let response = gw.client.get(gw.url("/hop-by-hop")).send().await.unwrap();
    let headers = response.headers().clone();
    assert_eq!(response.text().await.unwrap(), "hello");
    assert_eq!(headers["x-kept"], "yes");
    // Named by `Connection`, or hop-by-hop by definition (RFC 9110 §7.6.1).
    for gone in [
        "x-internal",
        "keep-alive",
        "proxy-connection",
        "upgrade",
        "trailer",
    ] {
        assert!(!headers.contains_key(gone), "{gone}: {headers:?}");
    }
    let response = gw.client.get(gw.url("/early-hints")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "hello");
}

#[tokio::test]
async fn body_bytes_after_a_bodiless_status_never_answer_the_next_request() {
    let (gw, _, connections) = gateway_and_scripted_backend().await;
    let response = gw
        .client
        .get(gw.url("/no-content-with-body"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(response.text().await.unwrap(), "");
    for _ in 0..2 {
        let response = gw.client.get(gw.url("/next")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "hello");
    }
    // The 204's connection, with "stray" after its head, was not reused.
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}
