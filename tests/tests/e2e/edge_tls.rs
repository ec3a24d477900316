//! TLS on the listener through real TLS clients: certificates chosen by
//! SNI, HTTP/1.1 and h2 chosen by ALPN (reqwest over rustls); with
//! `openssl s_client` (CI installs it; elsewhere skipped when missing):
//! TLS 1.2 and 1.3 each negotiated with either ALPN protocol, TLS 1.1
//! refused, the certificate each SNI name gets and its verification; the
//! plain-HTTP redirect, the handshake deadline and the connection limit.

use std::path::Path;
use std::time::Duration;

use mock_backends::seed;
use serde_json::Value;
use tests::gateway::{TestGateway, eventually};
use tests::openssl::OpenSsl;
use tests::tls::{Issued, TestCa, client_config, connect, peer_leaf, reqwest_client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Three certificates: `a.test`, `b.test`, and a default one (its SNI
/// name `fallback.test`; it is valid for `other.test` as well).
struct Site {
    ca: TestCa,
    a: Issued,
    b: Issued,
    fallback: Issued,
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let ca = TestCa::new("site CA");
        let dir = tempfile::tempdir().unwrap();
        let a = ca.server_cert(&["a.test"]);
        let b = ca.server_cert(&["b.test", "*.b.test"]);
        let fallback = ca.server_cert(&["fallback.test", "other.test"]);
        a.write(dir.path(), "a");
        b.write(dir.path(), "b");
        fallback.write(dir.path(), "fallback");
        Site {
            ca,
            a,
            b,
            fallback,
            dir,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// routes.yaml with TLS, the redirect listener and one route;
    /// `server_extra` goes under `server:`.
    fn yaml(&self, server_extra: &str) -> String {
        let dir = self.path().display();
        format!(
            r#"
server:
{server_extra}
  tls:
    certificates:
      - cert: {dir}/a.pem
        key: {dir}/a.key
      - cert: {dir}/b.pem
        key: {dir}/b.key
      - cert: {dir}/fallback.pem
        key: {dir}/fallback.key
        server_names: [fallback.test]
        default: true
    http_redirect:
      listen: 127.0.0.1:0
backends:
  orders:
    url: $ORDERS
routes:
  - path: /v1/orders/{{id}}
    method: GET
    backend: orders
"#
        )
    }
}

fn order_path() -> String {
    format!("/v1/orders/{}", seed::FIRST_ORDER_ID)
}

#[tokio::test]
async fn sni_picks_the_certificate_and_alpn_picks_http1_or_h2() {
    let site = Site::new();
    let gateway = TestGateway::start(&site.yaml("")).await;
    let addr = gateway.gateway.addr;
    let alpn: &[&[u8]] = &[b"h2", b"http/1.1"];
    for (name, expected) in [
        ("a.test", &site.a),
        ("b.test", &site.b),
        ("api.b.test", &site.b),
        ("other.test", &site.fallback),
    ] {
        let stream = connect(addr, name, client_config(&site.ca, alpn, None))
            .await
            .unwrap();
        assert_eq!(
            peer_leaf(&stream),
            expected.cert_der,
            "certificate for {name}"
        );
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    }

    let port = addr.port();
    let url = format!("https://a.test:{port}{}", order_path());
    let http1 = reqwest_client(
        client_config(&site.ca, &[b"http/1.1"], None),
        &["a.test"],
        addr,
    );
    let response = http1.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_11);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], seed::FIRST_ORDER_ID.to_string());

    let h2 = reqwest_client(client_config(&site.ca, alpn, None), &["a.test"], addr);
    let response = h2.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_2);
    // The gateway tells the backend the client came over https.
    let forwarded = gateway.mocks.orders.control.requests();
    let last = forwarded.last().unwrap();
    assert_eq!(last.headers["x-forwarded-proto"], "https");
}

#[tokio::test]
async fn plain_http_is_redirected_to_https_with_308() {
    let site = Site::new();
    let gateway = TestGateway::start(&site.yaml("")).await;
    let redirect = gateway.gateway.redirect_addr.expect("a redirect listener");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .post(format!("http://{redirect}/v1/orders/x?y=1&z=%20"))
        .header("host", "shop.test:8080")
        .body("kept by a 308")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 308);
    let port = gateway.gateway.addr.port();
    assert_eq!(
        response.headers()["location"],
        format!("https://shop.test:{port}/v1/orders/x?y=1&z=%20").as_str()
    );
    // Nothing reached a backend.
    assert!(gateway.mocks.orders.control.requests().is_empty());
}

#[tokio::test]
async fn openssl_sees_tls_1_2_and_1_3_with_alpn_and_tls_1_1_is_refused() {
    let Some(openssl) = OpenSsl::or_skip("openssl_sees_tls_1_2_and_1_3") else {
        return;
    };
    let site = Site::new();
    let gateway = TestGateway::start(&site.yaml("")).await;
    let addr = gateway.gateway.addr;
    let as_a = ["-servername", "a.test"];
    for (version, offered, chosen) in [
        ("-tls1_2", "h2,http/1.1", "h2"),
        ("-tls1_2", "http/1.1", "http/1.1"),
        ("-tls1_3", "h2,http/1.1", "h2"),
        ("-tls1_3", "http/1.1", "http/1.1"),
    ] {
        let session = openssl
            .s_client(addr, &[&as_a[..], &[version, "-alpn", offered]].concat())
            .await;
        let expected = if version == "-tls1_2" {
            "TLSv1.2"
        } else {
            "TLSv1.3"
        };
        let output = &session.output;
        assert_eq!(session.protocol(), Some(expected), "{version}: {output}");
        assert_eq!(session.alpn(), Some(chosen), "{offered}: {output}");
    }
    // A client offering neither ALPN protocol gets none (HTTP/1.1 then).
    let session = openssl
        .s_client(addr, &[&as_a[..], &["-alpn", "spdy/3"]].concat())
        .await;
    assert_eq!(session.protocol(), Some("TLSv1.3"), "{}", session.output);
    assert_eq!(session.alpn(), None, "{}", session.output);
    // The client is allowed TLS 1.1 (security level 0); the gateway
    // refuses it: the client sent its hello, the server answered with an
    // alert, and no session was made.
    let tls11 = openssl
        .s_client(
            addr,
            &[&as_a[..], &["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"]].concat(),
        )
        .await;
    assert_eq!(tls11.protocol(), None, "{}", tls11.output);
    assert!(
        tls11.output.contains("Cipher is (NONE)"),
        "{}",
        tls11.output
    );
    assert!(
        tls11.output.contains("SSL alert number"),
        "{}",
        tls11.output
    );
}

#[tokio::test]
async fn openssl_gets_the_certificate_sni_names_and_verifies_it() {
    let Some(openssl) = OpenSsl::or_skip("openssl_gets_the_certificate_sni_names") else {
        return;
    };
    let site = Site::new();
    let ca_file = site.ca.write(site.path(), "ca.pem");
    let gateway = TestGateway::start(&site.yaml("")).await;
    let addr = gateway.gateway.addr;
    for (name, expected) in [
        (Some("a.test"), &site.a),
        (Some("b.test"), &site.b),
        (Some("api.b.test"), &site.b),
        (Some("fallback.test"), &site.fallback),
        (Some("other.test"), &site.fallback),
        (None, &site.fallback),
    ] {
        let session = openssl.verified_session(addr, name, &ca_file).await;
        let output = &session.output;
        assert_eq!(
            session.server_certificate().as_ref(),
            Some(&expected.cert_der),
            "certificate for {name:?}: {output}"
        );
        if name.is_some() {
            // The chain is the site CA's and the name is the certificate's.
            assert_eq!(session.verify_result(), Some("0 (ok)"), "{output}");
        }
    }
    // An unknown name gets the default certificate, which does not carry
    // it: openssl's own check refuses it.
    let session = openssl
        .verified_session(addr, Some("unknown.test"), &ca_file)
        .await;
    let result = session.verify_result().unwrap_or_default();
    assert!(result.starts_with("62 "), "{}", session.output);
}

#[tokio::test]
async fn a_silent_or_trickling_handshake_is_cut_at_the_header_read_deadline() {
    let site = Site::new();
    let gateway = TestGateway::start(&site.yaml("  header_read_timeout: 300ms")).await;
    let addr = gateway.gateway.addr;
    let mut silent = TcpStream::connect(addr).await.unwrap();
    // A TLS record header for a ClientHello, and then nothing more.
    let mut trickle = TcpStream::connect(addr).await.unwrap();
    trickle.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
    for (what, stream) in [("silent", &mut silent), ("trickling", &mut trickle)] {
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("the {what} connection was not closed"));
        assert!(matches!(read, Ok(0) | Err(_)), "{what}: {read:?}");
    }
    eventually("the connections are released", || async {
        open_connections(&gateway).await == 0
    })
    .await;
    // A real client is served after that.
    let client = reqwest_client(client_config(&site.ca, &[b"h2"], None), &["a.test"], addr);
    let url = format!("https://a.test:{}{}", addr.port(), order_path());
    assert_eq!(client.get(url).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn the_connection_limit_counts_tls_connections() {
    let site = Site::new();
    let gateway = TestGateway::start(&site.yaml("  max_connections: 1")).await;
    let addr = gateway.gateway.addr;
    let first = connect(
        addr,
        "a.test",
        client_config(&site.ca, &[b"http/1.1"], None),
    )
    .await
    .unwrap();
    eventually("the first connection is open", || async {
        open_connections(&gateway).await == 1
    })
    .await;
    let refused = connect(
        addr,
        "a.test",
        client_config(&site.ca, &[b"http/1.1"], None),
    )
    .await;
    assert!(
        refused.is_err(),
        "a second connection past the limit got a handshake"
    );
    drop(first);
    eventually("the slot is free again", || async {
        open_connections(&gateway).await == 0
    })
    .await;
    let client = reqwest_client(
        client_config(&site.ca, &[b"http/1.1"], None),
        &["a.test"],
        addr,
    );
    let url = format!("https://a.test:{}{}", addr.port(), order_path());
    assert_eq!(client.get(url).send().await.unwrap().status(), 200);
}

async fn open_connections(gateway: &TestGateway) -> u64 {
    let workers: Value = reqwest::get(gateway.admin_url("/workers"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    workers["open_connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum()
}

/// A head hyper's parser refuses, sent inside TLS: the gateway's JSON
/// error is written through the session in place of hyper's bare 400.
#[tokio::test]
async fn a_malformed_head_over_tls_gets_the_gateways_json_error() {
    let site = Site::new();
    let gateway = TestGateway::start(&site.yaml("")).await;
    let config = client_config(&site.ca, &[b"http/1.1"], None);
    let mut stream = connect(gateway.gateway.addr, "a.test", config)
        .await
        .unwrap();
    let head = format!(
        "GET {} HTTP/1.1\r\nHost: a.test\r\nBad Header: 1\r\n\r\n",
        order_path()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    // The gateway closes after the answer; a peer that skips TLS's
    // close_notify ends the read with an error, after the bytes.
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(
        answer.contains("\"code\":\"MALFORMED_REQUEST\""),
        "{answer}"
    );
    assert!(answer.contains("\"request_id\":"), "{answer}");
    assert!(gateway.mocks.orders.control.requests().is_empty());
}

/// Plain HTTP sent to the TLS port (`curl http://...:443`) gets the
/// gateway's 400 in plain HTTP, as from nginx, instead of a TLS alert and
/// a closed connection; it is counted with the other refused requests.
/// Bytes that are neither HTTP nor TLS are just closed, and TLS clients
/// are served as before.
#[tokio::test]
async fn plain_http_on_the_tls_port_gets_a_plain_400() {
    let site = Site::new();
    let gateway = TestGateway::start(&site.yaml("")).await;
    let addr = gateway.gateway.addr;
    let mut plain = TcpStream::connect(addr).await.unwrap();
    let head = format!("GET {} HTTP/1.1\r\nHost: a.test\r\n\r\n", order_path());
    plain.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    plain.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8(answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "PLAIN_HTTP_ON_TLS_PORT", "{answer}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("https://"),
        "{answer}"
    );
    let request_id = body["error"]["request_id"].as_str().unwrap();
    assert!(
        answer.contains(&format!("\r\nx-request-id: {request_id}\r\n")),
        "{answer}"
    );
    assert!(gateway.mocks.orders.control.requests().is_empty());
    let metrics = tests::metrics::scrape(&gateway).await;
    assert_eq!(
        metrics.value(
            "gateway_refused_requests_total",
            &[("code", "PLAIN_HTTP_ON_TLS_PORT")]
        ),
        1.0
    );

    // Not HTTP, not TLS: closed without an answer.
    let mut junk = TcpStream::connect(addr).await.unwrap();
    junk.write_all(&[0x00, 0x01, 0x02, 0x03, 0x04])
        .await
        .unwrap();
    let mut rest = Vec::new();
    let _ = junk.read_to_end(&mut rest).await;
    assert!(
        !String::from_utf8_lossy(&rest).contains("HTTP/1.1"),
        "{rest:?}"
    );

    let client = reqwest_client(client_config(&site.ca, &[b"h2"], None), &["a.test"], addr);
    let url = format!("https://a.test:{}{}", addr.port(), order_path());
    assert_eq!(client.get(url).send().await.unwrap().status(), 200);
}
