//! `server.tls.hsts`: every response over TLS carries
//! `Strict-Transport-Security` (proxied, rendered errors, HTTP/1.1 and
//! h2), a backend's own value is replaced, plain HTTP (the redirect
//! listener) never carries it, and a reload changes it for the
//! connections that follow.

use mock_backends::seed;
use tests::gateway::TestGateway;
use tests::tls::{TestCa, client_config, reqwest_client, site_yaml};

/// The site with the redirect listener, `hsts` under `server.tls`, and an
/// echo route.
fn yaml(dir: &std::path::Path, hsts: &str) -> String {
    let tls_keys = format!("{hsts}\n    http_redirect:\n      listen: 127.0.0.1:0");
    let echo = "  - path: /echo\n    method: GET\n    backend: orders\n    rewrite:\n      template: /debug/echo";
    site_yaml(dir, &tls_keys, echo)
}

/// The `Strict-Transport-Security` values of a GET of `path` over a new
/// connection speaking `alpn`, and the status.
async fn sts(gateway: &TestGateway, ca: &TestCa, alpn: &[u8], path: &str) -> (u16, Vec<String>) {
    sts_with(gateway, ca, alpn, path, &[]).await
}

async fn sts_with(
    gateway: &TestGateway,
    ca: &TestCa,
    alpn: &[u8],
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<String>) {
    let addr = gateway.gateway.addr;
    let client = reqwest_client(client_config(ca, &[alpn], None), &["site.test"], addr);
    let mut request = client.get(format!("https://site.test:{}{path}", addr.port()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let values = response
        .headers()
        .get_all("strict-transport-security")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect();
    (response.status().as_u16(), values)
}

#[tokio::test]
async fn every_tls_response_carries_the_policy_and_plain_http_never_does() {
    let ca = TestCa::new("hsts CA");
    let dir = tempfile::tempdir().unwrap();
    ca.server_cert(&["site.test"]).write(dir.path(), "site");
    let hsts = "    hsts: { max_age: 2h, include_subdomains: true }";
    let gateway = TestGateway::start(&yaml(dir.path(), hsts)).await;
    let expected = vec!["max-age=7200; includeSubDomains".to_owned()];
    let order = format!("/v1/orders/{}", seed::FIRST_ORDER_ID);
    for alpn in [&b"http/1.1"[..], b"h2"] {
        assert_eq!(
            sts(&gateway, &ca, alpn, &order).await,
            (200, expected.clone())
        );
        // A rendered error: no route.
        assert_eq!(
            sts(&gateway, &ca, alpn, "/nowhere").await,
            (404, expected.clone())
        );
    }
    // The backend's own value (the echo mock answers with the response
    // headers it is asked for) is replaced, not doubled.
    let (status, values) = sts_with(
        &gateway,
        &ca,
        b"http/1.1",
        "/echo",
        &[("x-echo-set-header", "strict-transport-security=max-age=5")],
    )
    .await;
    assert_eq!((status, values), (200, expected.clone()));

    // The redirect listener answers over plain HTTP: no policy there
    // (RFC 6797 §7.2).
    let redirect = gateway.gateway.redirect_addr.expect("a redirect listener");
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://{redirect}{order}"))
        .header("host", "site.test")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 308);
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none()
    );

    // A reload changes it for the connections that follow; removing it
    // stops it.
    let preload = "    hsts: { max_age: 8760h, include_subdomains: true, preload: true }";
    gateway.update_config(&yaml(dir.path(), preload));
    gateway.assert_reloaded(2).await;
    let (_, values) = sts(&gateway, &ca, b"h2", &order).await;
    assert_eq!(values, ["max-age=31536000; includeSubDomains; preload"]);
    gateway.update_config(&yaml(dir.path(), ""));
    gateway.assert_reloaded(3).await;
    assert_eq!(sts(&gateway, &ca, b"h2", &order).await, (200, vec![]));
}
