//! Request limits with their defaults: the 1 MiB body limit (raised per
//! route, `unlimited` for uploads), the request-target length (414) and
//! the head's header count and size (431).

use tests::gateway::TestGateway;
use tests::raw_http::send;

const ROUTES: &str = concat!(
    tests::echo_routes!(),
    r#"  - path: /upload
    method: POST
    backend: users
    rewrite: { template: /debug/upload }
    max_body: unlimited
"#
);

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn bodies_are_limited_to_1_mib_unless_the_route_raises_it() {
    let gw = TestGateway::start(ROUTES).await;
    let at_limit = gw
        .client
        .post(gw.url("/echo/a"))
        .body(vec![b'x'; MIB])
        .send()
        .await
        .unwrap();
    assert_eq!(at_limit.status(), 200);
    let over = gw
        .client
        .post(gw.url("/echo/b"))
        .body(vec![b'x'; MIB + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(over.status(), 413);
    // Refused before its body was read: the gateway closes the connection
    // and says so, so the client's pool never reuses it.
    assert_eq!(over.headers()["connection"], "close");
    let body: serde_json::Value = over.json().await.unwrap();
    assert_eq!(body["error"]["code"], "BODY_TOO_LARGE");
    // Streamed without a length, the limit holds while the body flows.
    let chunks = futures::stream::iter(
        (0..3).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'y'; MIB / 2]))),
    );
    let streamed = gw
        .client
        .post(gw.url("/echo/c"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), 413);
    assert_eq!(streamed.headers()["connection"], "close");
    let upload = gw
        .client
        .post(gw.url("/upload"))
        .body(vec![b'z'; 3 * MIB])
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 200, "the upload route is unlimited");
}

#[tokio::test]
async fn long_targets_get_414_and_big_heads_get_431() {
    let gw = TestGateway::start(ROUTES).await;
    let addr = gw.gateway.addr;
    let long_path = format!("/echo/{}", "a".repeat(9 * 1024));
    let request = format!("GET {long_path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n");
    let answer = send(addr, request.as_bytes()).await;
    assert_eq!(answer.status, 414);
    assert_eq!(answer.error_code(), "URI_TOO_LONG");
    // A target so long the head passes max_header_bytes: hyper's parser
    // refuses the head before the request line ended, which the gateway
    // answers 414 (as nginx does), with its JSON error in place of
    // hyper's bare 431. Too many fields, a field too big: 431.
    let huge_path = format!("/echo/{}", "a".repeat(70 * 1024));
    let many: String = (0..150).map(|i| format!("X-H{i}: 1\r\n")).collect();
    let big = format!("X-Big: {}\r\n", "b".repeat(70 * 1024));
    for (request, status, code) in [
        (
            format!("GET {huge_path} HTTP/1.1\r\nHost: gw\r\n\r\n"),
            414,
            "URI_TOO_LONG",
        ),
        (
            format!("GET /echo/many HTTP/1.1\r\nHost: gw\r\n{many}\r\n"),
            431,
            "HEADERS_TOO_LARGE",
        ),
        (
            format!("GET /echo/big HTTP/1.1\r\nHost: gw\r\n{big}\r\n"),
            431,
            "HEADERS_TOO_LARGE",
        ),
    ] {
        let answer = send(addr, request.as_bytes()).await;
        assert_eq!(answer.status, status);
        assert_eq!(answer.error_code(), code);
        assert!(answer.json()["error"]["request_id"].is_string());
        assert_eq!(answer.header("connection"), Some("close"));
    }
    // The same on a kept-alive connection's second request.
    let second = format!(
        "GET /echo/first HTTP/1.1\r\nHost: gw\r\n\r\nGET {huge_path} HTTP/1.1\r\nHost: gw\r\n\r\n"
    );
    let answers = tests::raw_http::exchange(addr, second.as_bytes()).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 414]);
    // Within every limit, the request passes.
    let fine = format!(
        "GET /echo/fine HTTP/1.1\r\nHost: gw\r\nX-Ok: {}\r\nConnection: close\r\n\r\n",
        "o".repeat(8 * 1024)
    );
    assert_eq!(send(addr, fine.as_bytes()).await.status, 200);
    let forwarded: Vec<String> = gw
        .mocks
        .users
        .control
        .requests()
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(
        forwarded,
        vec![
            "/debug/echo/first".to_owned(),
            "/debug/echo/fine".to_owned()
        ]
    );
}

#[tokio::test]
async fn head_limits_follow_the_config() {
    let gw = TestGateway::start(&format!(
        "server: {{ max_uri_length: 128, max_headers: 10, max_header_bytes: 16KiB }}\n{ROUTES}"
    ))
    .await;
    let addr = gw.gateway.addr;
    let long = format!(
        "GET /echo/{} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n",
        "a".repeat(200)
    );
    assert_eq!(send(addr, long.as_bytes()).await.status, 414);
    let many: String = (0..12).map(|i| format!("X-H{i}: 1\r\n")).collect();
    let request = format!("GET /echo/many HTTP/1.1\r\nHost: gw\r\n{many}\r\n");
    assert_eq!(send(addr, request.as_bytes()).await.status, 431);
    let big = format!(
        "GET /echo/big HTTP/1.1\r\nHost: gw\r\nX-Big: {}\r\n\r\n",
        "b".repeat(20 * 1024)
    );
    assert_eq!(send(addr, big.as_bytes()).await.status, 431);
}

#[tokio::test]
async fn http2_heads_are_bounded_too() {
    let gw = TestGateway::start(ROUTES).await;
    let client = tests::mocks::h2c();
    let mut many = client.get(gw.url("/echo/h2many"));
    for i in 0..150 {
        many = many.header(format!("x-h{i}"), "1");
    }
    let response = many.send().await.unwrap();
    assert_eq!(response.status(), 431);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "HEADERS_TOO_LARGE");
    // Past max_header_list_size, the HTTP/2 layer answers 431 itself.
    let big = client
        .get(gw.url("/echo/h2big"))
        .header("x-big", "b".repeat(70 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 431);
    let forwarded = gw.mocks.users.control.requests();
    assert!(forwarded.is_empty(), "{forwarded:?}");
    // The connection still serves normal requests.
    let ok = client.get(gw.url("/echo/h2ok")).send().await.unwrap();
    assert_eq!(ok.status(), 200);
}

/// A client still sending a refused body reads the 413, marked
/// `Connection: close`, never a reset:
/// the gateway shuts its side after the response and discards what keeps
/// arriving for a bounded time (lingering close), rather than closing a
/// socket with unread bytes (which sends RST and can destroy the
/// response). Raw socket, repeated: the race is per connection.
#[tokio::test]
async fn a_client_still_sending_a_refused_body_reads_the_413_not_a_reset() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = TestGateway::start(ROUTES).await;
    for round in 0..8 {
        let stream = tokio::net::TcpStream::connect(gw.gateway.addr)
            .await
            .unwrap();
        let (mut read, mut write) = stream.into_split();
        let writer = tokio::spawn(async move {
            write
                .write_all(
                    b"POST /echo/linger HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n",
                )
                .await?;
            let mut chunk = b"10000\r\n".to_vec();
            chunk.extend_from_slice(&[b'x'; 0x10000]);
            chunk.extend_from_slice(b"\r\n");
            // 8 MiB: the gateway refuses it at 1 MiB, while it flows.
            for _ in 0..128 {
                write.write_all(&chunk).await?;
            }
            Ok::<_, std::io::Error>(())
        });
        let mut response = Vec::new();
        let read_result = read.read_to_end(&mut response).await;
        let text = String::from_utf8_lossy(&response);
        assert!(
            text.starts_with("HTTP/1.1 413"),
            "round {round}: {read_result:?}, got {text:?}"
        );
        assert!(text.contains("BODY_TOO_LARGE"), "round {round}: {text}");
        assert!(
            text.to_ascii_lowercase()
                .contains("\r\nconnection: close\r\n"),
            "round {round}: {text}"
        );
        writer.abort();
    }
}
