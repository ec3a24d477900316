//! The HTTP/1.1 connections against a real server on 127.0.0.1: reuse,
//! what must not be reused, the idle timeout, `Host` and the request
//! target, connect failures.

use std::convert::Infallible;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::*;

/// What the test server saw.
#[derive(Debug, Default)]
struct Seen {
    connections: AtomicUsize,
    /// `Host` and request target of each request.
    requests: Mutex<Vec<(String, String)>>,
}

/// A server answering every request with a 64 KiB body (`/close`: with
/// `Connection: close`).
async fn server() -> (Uri, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let counted = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            counted.connections.fetch_add(1, Ordering::SeqCst);
            let seen = Arc::clone(&counted);
            let service = service_fn(move |request: Request<Incoming>| {
                let host = request.headers()[header::HOST].to_str().unwrap().to_owned();
                seen.requests
                    .lock()
                    .unwrap()
                    .push((host, request.uri().to_string()));
                let mut response = Response::new(Full::new(Bytes::from(vec![b'x'; 65_536])));
                if request.uri().path() == "/close" {
                    response
                        .headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                async move { Ok::<_, Infallible>(response) }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (format!("http://{address}").parse().unwrap(), seen)
}

fn connections(base: &Uri, idle_timeout: Duration) -> Arc<Http1Connections> {
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
    Http1Connections::new(connector, std::slice::from_ref(base), 1, 4, idle_timeout)
}

fn get(base: &Uri, path: &str) -> Request<GatewayBody> {
    let uri = format!("{base}{}", path.trim_start_matches('/'));
    Request::get(uri).body(crate::body::empty()).unwrap()
}

async fn read_all(response: Response<PooledBody>) -> usize {
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .len()
}

#[tokio::test]
async fn sequential_requests_share_one_connection() {
    let (base, seen) = server().await;
    let pool = connections(&base, IDLE_TIMEOUT);
    for _ in 0..5 {
        let response = pool.send(0, get(&base, "/v1/x?y=1")).await.unwrap();
        assert_eq!(read_all(response).await, 65_536);
        assert_eq!(pool.idle_count(), 1);
    }
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
    let requests = seen.requests.lock().unwrap();
    let host = base.authority().unwrap().to_string();
    assert_eq!(requests.len(), 5);
    assert!(
        requests
            .iter()
            .all(|(seen_host, target)| *seen_host == host && target == "/v1/x?y=1"),
        "{requests:?}"
    );
}

#[tokio::test]
async fn concurrent_requests_open_their_own_connections_then_all_are_kept() {
    let (base, seen) = server().await;
    let pool = connections(&base, IDLE_TIMEOUT);
    let first = pool.send(0, get(&base, "/a")).await.unwrap();
    let second = pool.send(0, get(&base, "/b")).await.unwrap();
    assert_eq!(seen.connections.load(Ordering::SeqCst), 2);
    assert_eq!(pool.idle_count(), 0);
    read_all(first).await;
    read_all(second).await;
    assert_eq!(pool.idle_count(), 2);
}

#[tokio::test]
async fn a_body_dropped_before_its_end_takes_its_connection_with_it() {
    let (base, seen) = server().await;
    let pool = connections(&base, IDLE_TIMEOUT);
    let mut response = pool.send(0, get(&base, "/")).await.unwrap();
    // One frame of the 64 KiB, then the body is dropped.
    response.body_mut().frame().await.unwrap().unwrap();
    drop(response);
    assert_eq!(pool.idle_count(), 0);
    read_all(pool.send(0, get(&base, "/")).await.unwrap()).await;
    assert_eq!(seen.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_connection_the_server_closes_is_not_reused() {
    let (base, seen) = server().await;
    let pool = connections(&base, IDLE_TIMEOUT);
    read_all(pool.send(0, get(&base, "/close")).await.unwrap()).await;
    read_all(pool.send(0, get(&base, "/")).await.unwrap()).await;
    read_all(pool.send(0, get(&base, "/")).await.unwrap()).await;
    assert_eq!(seen.connections.load(Ordering::SeqCst), 2);
    assert_eq!(seen.requests.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn connections_idle_past_the_timeout_are_closed() {
    let (base, seen) = server().await;
    let pool = connections(&base, Duration::ZERO);
    read_all(pool.send(0, get(&base, "/")).await.unwrap()).await;
    assert_eq!(pool.idle_count(), 1);
    pool.sweep();
    assert_eq!(pool.idle_count(), 0);
    read_all(pool.send(0, get(&base, "/")).await.unwrap()).await;
    // Kept on check-in, expired at checkout.
    read_all(pool.send(0, get(&base, "/")).await.unwrap()).await;
    assert_eq!(seen.connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base: Uri = format!("http://{}", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    drop(listener);
    let pool = connections(&base, IDLE_TIMEOUT);
    let error = pool.send(0, get(&base, "/")).await.unwrap_err();
    assert!(matches!(error, SendError::Connect(_)), "{error:?}");
}

#[test]
fn host_carries_the_port_unless_it_is_the_default() {
    let host = |uri: &str| host_header(&uri.parse().unwrap());
    assert_eq!(host("http://a.example:8080/x"), "a.example:8080");
    assert_eq!(host("http://a.example:80"), "a.example");
    assert_eq!(host("https://a.example:443"), "a.example");
    assert_eq!(host("https://a.example:80"), "a.example:80");
    assert_eq!(host("http://127.0.0.1:7001"), "127.0.0.1:7001");
    assert_eq!(host("http://[::1]:7001"), "[::1]:7001");
}

#[test]
fn the_request_target_is_origin_form() {
    let target = |uri: &str| {
        let mut uri: Uri = uri.parse().unwrap();
        into_origin_form(&mut uri);
        uri.to_string()
    };
    assert_eq!(target("http://a:1/v1/x?y=%20"), "/v1/x?y=%20");
    assert_eq!(target("http://a:1"), "/");
    assert_eq!(target("/already"), "/already");
}

/// A server that writes every response itself: chunked, ending in a
/// trailer.
async fn trailers_server() -> (Uri, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let (mut seen, mut chunk) = (Vec::new(), [0u8; 1024]);
                loop {
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        let response = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
                                         5\r\nhello\r\n0\r\nx-checksum: 42\r\n\r\n";
                        if stream.write_all(response).await.is_err() {
                            return;
                        }
                    }
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => seen.extend_from_slice(&chunk[..read]),
                    }
                }
            });
        }
    });
    (base, connections)
}

#[tokio::test]
async fn trailers_give_the_connection_back_when_the_reader_stops_there() {
    let (base, opened) = trailers_server().await;
    let pool = connections(&base, IDLE_TIMEOUT);
    for _ in 0..3 {
        let mut response = pool.send(0, get(&base, "/")).await.unwrap();
        // Read up to the trailers, then stop without waiting for the end.
        loop {
            let frame = response.body_mut().frame().await.unwrap().unwrap();
            if let Some(trailers) = frame.trailers_ref() {
                assert_eq!(trailers["x-checksum"], "42");
                break;
            }
        }
        drop(response);
    }
    assert_eq!(opened.load(Ordering::SeqCst), 1);
}
