//! A backend that sends the response head and 10 bytes of body, then
//! stalls on a real socket: the body idle timeout aborts the client's
//! response (HTTP/1: the connection closes; HTTP/2: the stream is reset)
//! and drops the upstream connection.

use std::net::SocketAddr;

use tests::gateway::TestGateway;
use tests::mocks::within;
use tests::raw::read_until_closed;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// A backend that answers every request with a 100-byte promise, keeps
/// only 10 bytes of it, and reports when the gateway drops the connection.
async fn stalling_backend() -> (SocketAddr, mpsc::UnboundedReceiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (dropped, dropped_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(stall_one(stream, dropped.clone()));
        }
    });
    (addr, dropped_rx)
}

async fn stall_one(mut stream: TcpStream, dropped: mpsc::UnboundedSender<()>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let answer =
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100\r\n\r\n0123456789";
    if stream.write_all(answer).await.is_err() {
        return;
    }
    // Stall: send nothing more; wait for the gateway to hang up.
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
    let _ = dropped.send(());
}

fn routes(backend: SocketAddr) -> String {
    format!(
        r#"
backends:
  stalls: {{ url: "http://{backend}" }}
routes:
  - path: /stall
    backend: stalls
    body_idle_timeout: 300ms
"#
    )
}

#[tokio::test]
async fn http1_a_stalled_body_closes_the_client_connection_and_drops_the_upstream_one() {
    let (backend, mut dropped) = stalling_backend().await;
    let gw = TestGateway::start(&routes(backend)).await;
    let mut client = TcpStream::connect(gw.gateway.addr).await.unwrap();
    client
        .write_all(b"GET /stall HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let received = String::from_utf8_lossy(&read_until_closed(&mut client).await).into_owned();
    assert!(received.starts_with("HTTP/1.1 200 OK\r\n"), "{received:?}");
    assert!(received.contains("content-length: 100\r\n"), "{received:?}");
    assert!(received.ends_with("\r\n\r\n0123456789"), "{received:?}");
    within("the upstream connection to be dropped", dropped.recv())
        .await
        .unwrap();
}

#[tokio::test]
async fn h2_a_stalled_body_resets_the_stream() {
    let (backend, mut dropped) = stalling_backend().await;
    let gw = TestGateway::start(&routes(backend)).await;
    let client = tests::mocks::h2c();
    let response = client.get(gw.url("/stall")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body = within("the stream to end", response.bytes()).await;
    assert!(body.is_err(), "{body:?}");
    within("the upstream connection to be dropped", dropped.recv())
        .await
        .unwrap();
    // The connection itself is fine: the next request on it is served.
    let status = client
        .get(gw.url("/missing"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
}
