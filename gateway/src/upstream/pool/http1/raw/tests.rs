//! Raw connections against a scripted server on 127.0.0.1 that writes
//! exact bytes: every framing, reuse only when it is safe, a connection
//! closed while idle, stray bytes, and responses cut short or malformed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::super::{Http1Connections, PooledBody, SendError};
use crate::body::GatewayBody;

/// What the scripted server does with one request.
#[derive(Debug, Clone)]
enum Reply {
    /// Writes these bytes and keeps reading requests.
    Send(&'static [u8]),
    /// Writes these bytes and closes.
    SendThenClose(&'static [u8]),
    /// Closes without writing anything.
    Close,
}

/// A server that answers the `n`th request of every connection with
/// `script(connection, n)`, counting connections.
async fn scripted(script: fn(usize, usize) -> Reply) -> (Uri, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let connection = counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut request = 0;
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(read) = stream.read(&mut chunk).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    seen.extend_from_slice(&chunk[..read]);
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        match script(connection, request) {
                            Reply::Send(bytes) => stream.write_all(bytes).await.unwrap(),
                            Reply::SendThenClose(bytes) => {
                                stream.write_all(bytes).await.unwrap();
                                return;
                            }
                            Reply::Close => return,
                        }
                        request += 1;
                    }
                }
            });
        }
    });
    (base, connections)
}

fn pool(base: &Uri) -> Arc<Http1Connections> {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Http1Connections::new(
        connector,
        std::slice::from_ref(base),
        1,
        4,
        Duration::from_secs(60),
    )
}

fn request(method: &str, base: &Uri) -> Request<GatewayBody> {
    Request::builder()
        .method(method)
        .uri(format!("{base}x"))
        .body(crate::body::empty())
        .unwrap()
}

/// The body's bytes and trailers, or its error.
async fn body_of(
    response: Response<PooledBody>,
) -> Result<(Bytes, Option<http::HeaderMap>), String> {
    let collected = response
        .into_body()
        .collect()
        .await
        .map_err(|error| error.to_string())?;
    let trailers = collected.trailers().cloned();
    Ok((collected.to_bytes(), trailers))
}

const OK_HELLO: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

#[tokio::test]
async fn a_chunked_body_with_trailers_is_read_and_its_connection_reused() {
    let (base, connections) = scripted(|_, _| {
        Reply::Send(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
              5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-checksum: 42\r\n\r\n",
        )
    })
    .await;
    let pool = pool(&base);
    for _ in 0..3 {
        let response = pool.send(0, request("GET", &base)).await.unwrap();
        assert!(matches!(response.body(), PooledBody::Raw(_)));
        let (bytes, trailers) = body_of(response).await.unwrap();
        assert_eq!(bytes, "hello world");
        assert_eq!(trailers.unwrap()["x-checksum"], "42");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
    assert_eq!(pool.idle_count(), 1);
}

#[tokio::test]
async fn a_body_read_until_close_is_whole_and_its_connection_never_reused() {
    let (base, connections) =
        scripted(|_, _| Reply::SendThenClose(b"HTTP/1.1 200 OK\r\n\r\nall of it")).await;
    let pool = pool(&base);
    for _ in 0..2 {
        let response = pool.send(0, request("GET", &base)).await.unwrap();
        assert_eq!(body_of(response).await.unwrap().0, "all of it");
        assert_eq!(pool.idle_count(), 0);
    }
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_connection_closed_after_its_response_is_replaced_for_every_method() {
    // Each connection answers once, then closes while idle.
    let (base, connections) = scripted(|_, _| Reply::SendThenClose(OK_HELLO)).await;
    let pool = pool(&base);
    for method in ["GET", "POST", "GET"] {
        let response = pool.send(0, request(method, &base)).await.unwrap();
        assert_eq!(body_of(response).await.unwrap().0, "hello");
        // Wait until the server's close has reached the idle connection.
        for _ in 0..200 {
            if pool.idle_count() == 0 || !pool.has_open_raw_idle() {
                break;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    assert_eq!(connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_reused_connection_closed_without_a_response_is_retried_only_when_idempotent() {
    // The first connection answers once, then closes on the next request
    // without a byte (the keep-alive race); later ones answer everything.
    let (base, connections) = scripted(|connection, request| match (connection, request) {
        (0, 0) => Reply::Send(OK_HELLO),
        (0, _) => Reply::Close,
        (2, 0) => Reply::Send(OK_HELLO),
        (2, _) => Reply::Close,
        _ => Reply::Send(OK_HELLO),
    })
    .await;
    let pool = pool(&base);
    let first = pool.send(0, request("GET", &base)).await.unwrap();
    body_of(first).await.unwrap();
    let retried = pool.send(0, request("GET", &base)).await.unwrap();
    assert_eq!(body_of(retried).await.unwrap().0, "hello");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    // A POST is not sent twice: its reused connection's silence is an error.
    drop(pool);
    let pool = self::pool(&base);
    let third = pool.send(0, request("GET", &base)).await.unwrap();
    body_of(third).await.unwrap();
    let error = pool.send(0, request("POST", &base)).await.unwrap_err();
    assert!(matches!(error, SendError::Lost(_)), "{error:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn stray_bytes_after_a_response_are_never_read_as_the_next_one() {
    // Two responses to one request: the second must not answer the next.
    let (base, connections) = scripted(|connection, _| match connection {
        0 => Reply::Send(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray",
        ),
        _ => Reply::Send(OK_HELLO),
    })
    .await;
    let pool = pool(&base);
    for _ in 0..2 {
        let response = pool.send(0, request("GET", &base)).await.unwrap();
        assert_eq!(body_of(response).await.unwrap().0, "hello");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_body_cut_short_is_an_error_and_its_connection_closed() {
    let (base, connections) = scripted(|connection, _| match connection {
        0 => Reply::SendThenClose(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"),
        _ => Reply::Send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX"),
    })
    .await;
    let pool = pool(&base);
    let response = pool.send(0, request("GET", &base)).await.unwrap();
    let error = body_of(response).await.unwrap_err();
    assert!(error.contains("closed before"), "{error}");
    let response = pool.send(0, request("GET", &base)).await.unwrap();
    let error = body_of(response).await.unwrap_err();
    assert!(error.contains("CRLF"), "{error}");
    assert_eq!(pool.idle_count(), 0);
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_malformed_or_ambiguous_head_is_a_lost_request() {
    let (base, _) = scripted(|connection, _| match connection {
        0 => Reply::Send(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
        1 => Reply::Send(b"HTTP/1.1 101 Switching Protocols\r\n\r\n"),
        2 => Reply::Send(b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n"),
        _ => Reply::SendThenClose(b"HTTP/1.1 200 OK\r\nContent-Le"),
    })
    .await;
    let pool = pool(&base);
    for expected in [
        "Content-Length",
        "101",
        "malformed",
        "middle of the response head",
    ] {
        let error = pool.send(0, request("GET", &base)).await.unwrap_err();
        let SendError::Lost(error) = error else {
            panic!("{error:?}");
        };
        assert!(error.to_string().contains(expected), "{error}");
    }
}

#[tokio::test]
async fn a_head_response_has_no_body_and_keeps_its_connection() {
    let (base, connections) =
        scripted(|_, _| Reply::Send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")).await;
    let pool = pool(&base);
    for _ in 0..2 {
        let response = pool.send(0, request("HEAD", &base)).await.unwrap();
        assert_eq!(response.headers()["content-length"], "1000");
        assert!(http_body::Body::is_end_stream(response.body()));
        assert_eq!(body_of(response).await.unwrap().0, "");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_request_with_a_body_takes_hyper_and_trailers_give_its_connection_back() {
    let (base, connections) = scripted(|_, _| {
        Reply::Send(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
              5\r\nhello\r\n0\r\nx-checksum: 42\r\n\r\n",
        )
    })
    .await;
    let pool = pool(&base);
    for _ in 0..3 {
        let post = Request::post(format!("{base}x"))
            .header("content-length", "0")
            .body(crate::body::full("ignored by the script"))
            .unwrap();
        let mut response = pool.send(0, post).await.unwrap();
        assert!(matches!(response.body(), PooledBody::Hyper(_)));
        // Read up to the trailers, then stop without waiting for the end.
        loop {
            let frame = response.body_mut().frame().await.unwrap().unwrap();
            if frame.is_trailers() {
                break;
            }
        }
        drop(response);
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}
