//! Request smuggling and framing, through raw sockets: every ambiguous or
//! malformed message shape gets its documented answer (docs/security.md,
//! "Refused request shapes"), the connection is not reused after it, and
//! the backend never sees the request hidden behind it.

use std::net::SocketAddr;

use mock_backends::RecordedRequest;
use tests::gateway::{ECHO_ROUTES, TestGateway};
use tests::raw_http::{exchange, send};

/// The users mock's requests whose path mentions `marker`.
fn received(gw: &TestGateway, marker: &str) -> Vec<RecordedRequest> {
    gw.mocks
        .users
        .control
        .requests()
        .into_iter()
        .filter(|r| r.path.contains(marker))
        .collect()
}

/// A request with `framing` headers and `body`, followed on the same
/// connection by a request for `/echo/smuggled`.
fn smuggling(framing: &str, body: &str) -> Vec<u8> {
    format!(
        "POST /echo/front HTTP/1.1\r\nHost: gw\r\n{framing}\r\n{body}\
         GET /echo/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n"
    )
    .into_bytes()
}

async fn assert_refused_without_smuggling(gw: &TestGateway, framing: &str, body: &str) {
    let addr: SocketAddr = gw.gateway.addr;
    let responses = exchange(addr, &smuggling(framing, body)).await;
    assert_eq!(
        responses.len(),
        1,
        "{framing:?}: one answer, then the connection closes: {responses:?}"
    );
    assert_eq!(responses[0].status, 400, "{framing:?}: {responses:?}");
    assert!(
        received(gw, "smuggled").is_empty(),
        "{framing:?}: the smuggled request reached the backend"
    );
    assert!(
        received(gw, "front").is_empty(),
        "{framing:?}: the refused request reached the backend"
    );
}

#[tokio::test]
async fn ambiguous_transfer_encodings_are_refused_by_the_gateway() {
    let gw = TestGateway::start(ECHO_ROUTES).await;
    for framing in [
        "Transfer-Encoding: chunked, chunked\r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: identity, chunked\r\n",
    ] {
        assert_refused_without_smuggling(&gw, framing, "0\r\n\r\n").await;
        let answer = send(gw.gateway.addr, &smuggling(framing, "0\r\n\r\n")).await;
        assert_eq!(answer.error_code(), "BAD_FRAMING", "{framing:?}");
        assert_eq!(answer.header("connection"), Some("close"), "{framing:?}");
        assert!(answer.json()["error"]["request_id"].is_string());
    }
}

#[tokio::test]
async fn framing_hyper_refuses_is_refused_before_any_routing() {
    let gw = TestGateway::start(ECHO_ROUTES).await;
    for framing in [
        "Transfer-Encoding: identity\r\n",
        "Transfer-Encoding: xchunked\r\n",
        "Transfer-Encoding: chunked, gzip\r\n",
        "Transfer-Encoding: chunked,\r\n",
        "Content-Length: 5\r\nContent-Length: 6\r\n",
        "Content-Length: -1\r\n",
        "Content-Length: +5\r\n",
        "Content-Length: 0x5\r\n",
        "Transfer-Encoding : chunked\r\n",
        "X-Folded: a\r\n b\r\nContent-Length: 0\r\n",
        "Bad Header: 1\r\n",
    ] {
        assert_refused_without_smuggling(&gw, framing, "").await;
        assert_malformed(
            &send(gw.gateway.addr, &smuggling(framing, "")).await,
            framing,
        );
    }
    // Transfer-Encoding is not HTTP/1.0.
    let old =
        b"POST /echo/front HTTP/1.0\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_malformed(&send(gw.gateway.addr, old).await, "HTTP/1.0 chunked");
    assert!(received(&gw, "front").is_empty());
}

/// The gateway's JSON error for a head hyper's parser refused, written in
/// place of hyper's bare 400.
fn assert_malformed(answer: &tests::raw_http::RawResponse, shape: &str) {
    assert_eq!(answer.status, 400, "{shape:?}");
    assert_eq!(answer.error_code(), "MALFORMED_REQUEST", "{shape:?}");
    assert!(
        answer.json()["error"]["request_id"].is_string(),
        "{shape:?}"
    );
    assert_eq!(answer.header("connection"), Some("close"), "{shape:?}");
    assert!(answer.header("x-request-id").is_some(), "{shape:?}");
}

/// Heads hyper's parser refuses outside the framing headers: the same
/// JSON error, and the connection carries nothing after it.
#[tokio::test]
async fn malformed_request_lines_and_fields_get_the_gateways_error() {
    let gw = TestGateway::start(ECHO_ROUTES).await;
    for head in [
        "GET /echo/x HTTP/1.2\r\nHost: gw\r\n\r\n",
        "GET /echo/x HTTP/2.0\r\nHost: gw\r\n\r\n",
        "G(T /echo/x HTTP/1.1\r\nHost: gw\r\n\r\n",
        "GET /echo/x\r\n\r\n",
        "GET /echo/x HTTP/1.1\r\nHost: gw\r\nX-A: a\x00b\r\n\r\n",
        "GET /echo/x HTTP/1.1\r\nHost: gw\r\n: empty\r\n\r\n",
    ] {
        let request = format!("{head}GET /echo/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n");
        let responses = exchange(gw.gateway.addr, request.as_bytes()).await;
        assert_eq!(responses.len(), 1, "{head:?}: {responses:?}");
        assert_malformed(&responses[0], head);
    }
    assert!(received(&gw, "echo").is_empty());
}

/// TE + CL (CL.TE / TE.CL): hyper frames the body as chunked, drops the
/// Content-Length and closes the connection after the answer, so the
/// bytes after the chunked body are never read as a request.
#[tokio::test]
async fn transfer_encoding_with_content_length_cannot_smuggle() {
    let gw = TestGateway::start(ECHO_ROUTES).await;
    for framing in [
        "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 6\r\n",
    ] {
        let responses = exchange(gw.gateway.addr, &smuggling(framing, "0\r\n\r\n")).await;
        assert_eq!(responses.len(), 1, "{framing:?}: {responses:?}");
        assert!(
            received(&gw, "smuggled").is_empty(),
            "{framing:?}: the smuggled request reached the backend"
        );
        let forwarded = received(&gw, "front");
        for request in &forwarded {
            assert!(
                request
                    .headers
                    .get("content-length")
                    .is_none_or(|v| v == "0")
            );
        }
    }
}

#[tokio::test]
async fn malformed_chunked_bodies_are_the_clients_400_not_a_502() {
    let gw = TestGateway::start(ECHO_ROUTES).await;
    let long_extension = format!("5;{}\r\nhello\r\n0\r\n\r\n", "x".repeat(20_000));
    for body in [
        "-0x0\r\n\r\n",
        "0x5\r\nhello\r\n0\r\n\r\n",
        "FFFFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n",
        "5\nhello\r\n0\r\n\r\n",
        "3\r\nhello\r\n0\r\n\r\n",
        "5;ext\nx\r\nhello\r\n0\r\n\r\n",
        "5 x\r\nhello\r\n0\r\n\r\n",
        "5\r\nhelloXX0\r\n\r\n",
        long_extension.as_str(),
    ] {
        let request = format!(
            "POST /echo/bad-body HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n{body}"
        );
        let answer = send(gw.gateway.addr, request.as_bytes()).await;
        assert_eq!(answer.status, 400, "{body:?}: {answer:?}");
        assert_eq!(
            answer.error_code(),
            "BAD_REQUEST_BODY",
            "{body:?}: {answer:?}"
        );
        for leak in ["hyper", "chunk", "os error", "127.0.0.1", "users"] {
            assert!(
                !answer.body.to_lowercase().contains(leak),
                "{body:?}: the answer leaks {leak:?}: {}",
                answer.body
            );
        }
    }
}

#[tokio::test]
async fn a_well_formed_chunked_request_still_passes_and_keeps_the_connection() {
    let gw = TestGateway::start(ECHO_ROUTES).await;
    let request = b"POST /echo/ok HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n\
                    5\r\nhello\r\n0\r\n\r\n\
                    GET /echo/second HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n";
    let responses = exchange(gw.gateway.addr, request).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200, 200], "{responses:?}");
    assert_eq!(received(&gw, "second").len(), 1);
}

/// Bare-LF line endings in the head are accepted (as nginx does): the
/// request is re-framed upstream, so no backend sees them.
#[tokio::test]
async fn bare_lf_heads_are_accepted_and_reframed() {
    let gw = TestGateway::start(ECHO_ROUTES).await;
    let answer = send(
        gw.gateway.addr,
        b"GET /echo/lf HTTP/1.1\nHost: gw\nConnection: close\n\n",
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(received(&gw, "lf").len(), 1);
}
