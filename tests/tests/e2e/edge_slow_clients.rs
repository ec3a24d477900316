//! Slow and silent clients, through raw sockets: the header-read deadline
//! starts at accept (it covers the HTTP/1-or-2 sniff), HTTP/1 gets a 408
//! where it can, keep-alive and HTTP/2 idle connections are closed, the
//! connection limits hold while a served client keeps being served, and
//! the gateway's descriptors go back to their baseline.

use serde_json::Value;
use tests::gateway::{TestGateway, eventually};
use tests::mocks::send_json;
use tests::raw::{GOAWAY, connection_fds, h2c_connect, http1_get, read_until_closed, until_goaway};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const ROUTES: &str = r#"
server:
  header_read_timeout: 300ms
  idle_timeout: 400ms
backends:
  users: { url: $USERS }
routes:
  - path: /v1/users
    backend: users
"#;

/// Sends `bytes` (maybe nothing) and returns all the gateway wrote before
/// closing.
async fn send_and_wait_for_close(gw: &TestGateway, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(gw.gateway.addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    String::from_utf8_lossy(&read_until_closed(&mut stream).await).into_owned()
}

fn assert_408(answer: &str) {
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{answer:?}"
    );
    assert!(answer.contains("connection: close\r\n"), "{answer:?}");
    let body = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["error"]["code"], "REQUEST_TIMEOUT", "{body}");
    assert!(
        body["error"]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
}

#[tokio::test]
async fn a_connection_that_never_sends_a_byte_gets_408_and_is_closed() {
    let gw = TestGateway::start(ROUTES).await;
    assert_408(&send_and_wait_for_close(&gw, b"").await);
}

#[tokio::test]
async fn a_request_head_that_stalls_gets_408_and_is_closed() {
    let gw = TestGateway::start(ROUTES).await;
    let answer = send_and_wait_for_close(&gw, b"GET /v1/users/1 HTTP/1.1\r\nhost: x\r\n").await;
    assert_408(&answer);
}

#[tokio::test]
async fn a_lone_p_is_an_unfinished_http1_request_line_and_gets_408() {
    let gw = TestGateway::start(ROUTES).await;
    assert_408(&send_and_wait_for_close(&gw, b"P").await);
}

#[tokio::test]
async fn a_partial_http2_preface_is_closed_without_an_http1_answer() {
    let gw = TestGateway::start(ROUTES).await;
    let answer = send_and_wait_for_close(&gw, b"PRI * HTTP/2.0\r\n").await;
    assert_eq!(answer, "");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_quietly_after_the_idle_timeout() {
    let gw = TestGateway::start(ROUTES).await;
    let mut stream = TcpStream::connect(gw.gateway.addr).await.unwrap();
    let (status, _) = http1_get(&mut stream, "/v1/users").await.unwrap();
    assert_eq!(status, 200);
    // Within the idle timeout the connection is reused.
    let (status, _) = http1_get(&mut stream, "/v1/users").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(read_until_closed(&mut stream).await, b"");
}

#[tokio::test]
async fn a_second_request_head_that_stalls_gets_408() {
    let gw = TestGateway::start(ROUTES).await;
    let mut stream = TcpStream::connect(gw.gateway.addr).await.unwrap();
    let (status, _) = http1_get(&mut stream, "/v1/users").await.unwrap();
    assert_eq!(status, 200);
    stream
        .write_all(b"GET /v1/users/2 HTTP/1.1\r\n")
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&read_until_closed(&mut stream).await).into_owned();
    assert_408(&answer);
}

#[tokio::test]
async fn an_idle_h2c_connection_gets_goaway_and_is_closed() {
    let gw = TestGateway::start(ROUTES).await;
    let mut stream = h2c_connect(gw.gateway.addr).await;
    let goaway = until_goaway(&mut stream).await.expect("a GOAWAY frame");
    assert_eq!(goaway.kind, GOAWAY);
    // NO_ERROR: a polite close.
    assert_eq!(&goaway.payload[4..8], &[0, 0, 0, 0]);
    read_until_closed(&mut stream).await;
}

#[tokio::test]
async fn silent_connections_are_all_closed_and_the_descriptors_return_to_baseline() {
    let gw = TestGateway::start(
        &ROUTES.replace("header_read_timeout: 300ms", "header_read_timeout: 1s"),
    )
    .await;
    let port = gw.gateway.addr.port();
    let baseline = connection_fds(port);
    let mut silent = Vec::new();
    for _ in 0..50 {
        silent.push(TcpStream::connect(gw.gateway.addr).await.unwrap());
    }
    let partial = [
        b"".as_slice(),
        b"P",
        b"PRI * HTTP/2.0\r\n",
        b"GET / HTTP/1.1\r\n",
    ];
    for (stream, bytes) in silent.iter_mut().zip(partial.iter().cycle()) {
        stream.write_all(bytes).await.unwrap();
    }
    eventually("the gateway to hold the silent connections", || async {
        connection_fds(port) >= baseline + 50
    })
    .await;
    // Meanwhile a normal client is served.
    let mut normal = TcpStream::connect(gw.gateway.addr).await.unwrap();
    assert_eq!(http1_get(&mut normal, "/v1/users").await.unwrap().0, 200);
    drop(normal);
    for stream in &mut silent {
        read_until_closed(stream).await;
    }
    eventually("the descriptors to return to the baseline", || async {
        connection_fds(port) <= baseline
    })
    .await;
}

const LIMITED: &str = r#"
server:
  workers: 2
  max_connections: 4
  max_connections_per_worker: 2
backends:
  users: { url: $USERS }
routes:
  - path: /v1/users
    backend: users
"#;

async fn workers_report(gw: &TestGateway) -> Value {
    let (status, report) = send_json(gw.client.get(gw.admin_url("/workers"))).await;
    assert_eq!(status, 200);
    report
}

async fn open_connections(gw: &TestGateway) -> u64 {
    let report = workers_report(gw).await;
    report["open_connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum()
}

#[tokio::test]
async fn past_the_connection_limit_new_connections_are_closed_and_served_clients_keep_going() {
    let gw = TestGateway::start(LIMITED).await;
    let mut served = TcpStream::connect(gw.gateway.addr).await.unwrap();
    assert_eq!(http1_get(&mut served, "/v1/users").await.unwrap().0, 200);
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(TcpStream::connect(gw.gateway.addr).await.unwrap());
    }
    eventually("four open connections", || async {
        open_connections(&gw).await == 4
    })
    .await;
    // The fifth is closed at once, without a byte.
    let mut refused = TcpStream::connect(gw.gateway.addr).await.unwrap();
    assert_eq!(read_until_closed(&mut refused).await, b"");
    assert!(workers_report(&gw).await["rejected_connections"].as_u64() >= Some(1));
    // The client already served is not starved.
    assert_eq!(http1_get(&mut served, "/v1/users").await.unwrap().0, 200);
    // A slot freed is a slot for the next client.
    drop(silent.pop());
    eventually("a freed slot", || async {
        open_connections(&gw).await == 3
    })
    .await;
    let mut next = TcpStream::connect(gw.gateway.addr).await.unwrap();
    assert_eq!(http1_get(&mut next, "/v1/users").await.unwrap().0, 200);
}

#[tokio::test]
async fn the_per_worker_limit_caps_each_worker() {
    let yaml = LIMITED.replace("max_connections: 4", "max_connections: 100");
    let gw = TestGateway::start(&yaml).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(gw.gateway.addr).await.unwrap());
    }
    eventually("two connections on each worker", || async {
        workers_report(&gw).await["open_connections"] == serde_json::json!([2, 2])
    })
    .await;
    let mut refused = TcpStream::connect(gw.gateway.addr).await.unwrap();
    assert_eq!(read_until_closed(&mut refused).await, b"");
}

const SLOW_READER: &str = r#"
server:
  send_timeout: 300ms
  max_body: 1KiB
backends:
  orders: { url: $ORDERS }
routes:
  - path: /debug/download
    backend: orders
"#;

/// A slow-read attack: the client asks for a large response and never
/// reads it. Once the socket buffers are full the gateway's writes block;
/// after `send_timeout` it closes the connection (and so frees the
/// upstream call) while the client still holds its end open.
#[tokio::test]
async fn a_client_that_stops_reading_is_closed_after_the_send_timeout() {
    const SIZE: u64 = 256 * 1024 * 1024;
    let gw = TestGateway::start(SLOW_READER).await;
    let mut reader = TcpStream::connect(gw.gateway.addr).await.unwrap();
    let request = format!("GET /debug/download?bytes={SIZE} HTTP/1.1\r\nhost: x\r\n\r\n");
    reader.write_all(request.as_bytes()).await.unwrap();
    eventually(
        "the gateway gave up on the client that does not read",
        || async { open_connections(&gw).await == 0 },
    )
    .await;
    let received = read_until_closed(&mut reader).await;
    assert!(
        received.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{:?}",
        &received[..received.len().min(40)]
    );
    assert!((received.len() as u64) < SIZE, "the whole body arrived");
    // Other clients are served as usual.
    let mut other = TcpStream::connect(gw.gateway.addr).await.unwrap();
    let (status, _) = http1_get(&mut other, "/debug/download?bytes=10")
        .await
        .unwrap();
    assert_eq!(status, 200);
}
