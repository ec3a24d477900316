//! Host handling through raw sockets: one valid `Host` on HTTP/1.1, an
//! absolute-form target that must agree with it, and HTTP/2's
//! `:authority`.

use tests::gateway::{ECHO_ROUTES, TestGateway};
use tests::raw_http::send;

async fn status_and_code(gw: &TestGateway, head: &str) -> (u16, String) {
    let request = format!("{head}Connection: close\r\n\r\n");
    let answer = send(gw.gateway.addr, request.as_bytes()).await;
    (answer.status, answer.error_code())
}

fn backend_saw(gw: &TestGateway, marker: &str) -> bool {
    gw.mocks
        .users
        .control
        .requests()
        .iter()
        .any(|r| r.path.contains(marker))
}

#[tokio::test]
async fn http11_needs_exactly_one_valid_host() {
    let gw = TestGateway::start(ECHO_ROUTES).await;
    let cases = [
        ("GET /echo/h1 HTTP/1.1\r\n", 400, "MISSING_HOST"),
        (
            "GET /echo/h2 HTTP/1.1\r\nHost: a\r\nHost: b\r\n",
            400,
            "MULTIPLE_HOSTS",
        ),
        ("GET /echo/h3 HTTP/1.1\r\nHost: a b\r\n", 400, "BAD_HOST"),
        (
            "GET /echo/h4 HTTP/1.1\r\nHost: user@evil\r\n",
            400,
            "BAD_HOST",
        ),
        (
            "GET /echo/h5 HTTP/1.1\r\nHost: a:99999\r\n",
            400,
            "BAD_HOST",
        ),
        ("GET /echo/h6 HTTP/1.1\r\nHost: a:x\r\n", 400, "BAD_HOST"),
        ("GET /echo/h7 HTTP/1.1\r\nHost:\r\n", 400, "BAD_HOST"),
    ];
    for (head, status, code) in cases {
        assert_eq!(
            status_and_code(&gw, head).await,
            (status, code.to_owned()),
            "{head:?}"
        );
    }
    for marker in ["h1", "h2", "h3", "h4", "h5", "h6", "h7"] {
        assert!(
            !backend_saw(&gw, &format!("/{marker}")),
            "{marker} was forwarded"
        );
    }
    // HTTP/1.0 has no Host requirement; a valid host passes.
    assert_eq!(
        status_and_code(&gw, "GET /echo/ok10 HTTP/1.0\r\n").await.0,
        200
    );
    let ok = "GET /echo/ok11 HTTP/1.1\r\nHost: api.example.com:8080\r\n";
    assert_eq!(status_and_code(&gw, ok).await.0, 200);
}

#[tokio::test]
async fn an_absolute_form_target_must_agree_with_host() {
    let gw = TestGateway::start(ECHO_ROUTES).await;
    let mismatch = "GET http://evil.example/echo/abs1 HTTP/1.1\r\nHost: api.example.com\r\n";
    assert_eq!(
        status_and_code(&gw, mismatch).await,
        (400, "HOST_MISMATCH".to_owned())
    );
    assert!(!backend_saw(&gw, "abs1"));
    let userinfo = "GET http://u:p@api.example.com/echo/abs2 HTTP/1.1\r\nHost: api.example.com\r\n";
    assert_eq!(status_and_code(&gw, userinfo).await.0, 400);
    let agree = "GET http://api.example.com/echo/abs3 HTTP/1.1\r\nHost: api.example.com\r\n";
    assert_eq!(status_and_code(&gw, agree).await.0, 200);
    assert!(backend_saw(&gw, "abs3"));
}

#[tokio::test]
async fn http2_authority_and_host_must_agree() {
    let gw = TestGateway::start(ECHO_ROUTES).await;
    let client = tests::mocks::h2c();
    let ok = client.get(gw.url("/echo/h2ok")).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let mismatch = client
        .get(gw.url("/echo/h2bad"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(mismatch.status(), 400);
    let body: serde_json::Value = mismatch.json().await.unwrap();
    assert_eq!(body["error"]["code"], "HOST_MISMATCH");
    assert!(!backend_saw(&gw, "h2bad"));
}
