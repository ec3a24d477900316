//! Header handling: hop-by-hop, forwarding headers, request ids, route
//! rules, and pass-through of whatever the backend answered.

use gateway::context::X_REQUEST_ID;
use serde_json::Value;
use tests::gateway::TestGateway;
use tests::mocks::json_body;

const ROUTES: &str = r#"
backends:
  users: { url: $USERS }
routes:
  - path: /echo/{*rest}
    backend: users
    rewrite: { template: "/debug/echo/{rest}" }
    headers:
      request:
        add: { x-gateway-route: echo }
        remove: [x-internal-secret]
      response:
        add: { x-served-by: gateway }
        remove: [x-backend-detail]
  - path: /v1/users/{id}
    backend: users
"#;

fn header<'a>(echo: &'a Value, name: &str) -> Vec<&'a str> {
    echo["headers"][name]
        .as_array()
        .map(|values| values.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn hop_by_hop_headers_are_stripped_on_the_way_up() {
    let gw = TestGateway::start(ROUTES).await;
    let echo = json_body(
        gw.client
            .get(gw.url("/echo/x"))
            .header("connection", "x-drop-me")
            .header("x-drop-me", "1")
            .header("keep-alive", "timeout=5")
            .header("proxy-authorization", "Basic abc")
            .header("x-kept", "yes"),
    )
    .await;
    for name in ["x-drop-me", "keep-alive", "proxy-authorization", "upgrade"] {
        assert!(
            header(&echo, name).is_empty(),
            "{name} reached the backend: {echo}"
        );
    }
    assert_eq!(header(&echo, "x-kept"), vec!["yes"]);
}

#[tokio::test]
async fn hop_by_hop_headers_are_stripped_on_the_way_down() {
    let gw = TestGateway::start(ROUTES).await;
    let response = gw
        .client
        .get(gw.url("/echo/x"))
        .header("x-echo-set-header", "connection=x-secret-hop")
        .header("x-echo-set-header", "x-secret-hop=1")
        .header("x-echo-set-header", "keep-alive=timeout=99")
        .header("x-echo-set-header", "x-backend-kept=1")
        .send()
        .await
        .unwrap();
    let headers = response.headers();
    assert!(headers.get("x-secret-hop").is_none(), "{headers:?}");
    assert_ne!(
        headers.get("keep-alive").map(|v| v.to_str().unwrap()),
        Some("timeout=99")
    );
    assert_eq!(headers["x-backend-kept"], "1");
}

#[tokio::test]
async fn forwarding_headers_come_from_the_socket_not_the_client() {
    let gw = TestGateway::start(ROUTES).await;
    let echo = json_body(
        gw.client
            .get(gw.url("/echo/x"))
            .header("x-forwarded-for", "203.0.113.9")
            .header("forwarded", "for=203.0.113.9")
            .header("x-forwarded-proto", "https")
            .header("host", "shop.example.com"),
    )
    .await;
    assert_eq!(header(&echo, "x-forwarded-for"), vec!["127.0.0.1"]);
    assert_eq!(header(&echo, "x-forwarded-proto"), vec!["http"]);
    assert_eq!(header(&echo, "x-forwarded-host"), vec!["shop.example.com"]);
    assert_eq!(
        header(&echo, "forwarded"),
        vec!["for=127.0.0.1;proto=http;host=\"shop.example.com\""]
    );
}

#[tokio::test]
async fn request_ids_pass_through_or_are_minted() {
    let gw = TestGateway::start(ROUTES).await;
    let response = gw
        .client
        .get(gw.url("/echo/x"))
        .header(X_REQUEST_ID, "client-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()[X_REQUEST_ID], "client-42");
    let echo: Value = response.json().await.unwrap();
    assert_eq!(header(&echo, X_REQUEST_ID.as_str()), vec!["client-42"]);

    let response = gw.client.get(gw.url("/echo/x")).send().await.unwrap();
    let minted = response.headers()[X_REQUEST_ID]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(minted.len(), 36, "a UUID: {minted}");
    let echo: Value = response.json().await.unwrap();
    assert_eq!(header(&echo, X_REQUEST_ID.as_str()), vec![minted.as_str()]);
}

#[tokio::test]
async fn route_header_rules_apply_both_ways() {
    let gw = TestGateway::start(ROUTES).await;
    let response = gw
        .client
        .get(gw.url("/echo/x"))
        .header("x-internal-secret", "s3cret")
        .header("x-gateway-route", "spoofed")
        .header("x-echo-set-header", "x-backend-detail=internal")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-served-by"], "gateway");
    assert!(response.headers().get("x-backend-detail").is_none());
    let echo: Value = response.json().await.unwrap();
    assert!(header(&echo, "x-internal-secret").is_empty());
    assert_eq!(header(&echo, "x-gateway-route"), vec!["echo"]);
}

#[tokio::test]
async fn backend_status_headers_and_error_bodies_pass_through_unchanged() {
    let gw = TestGateway::start(ROUTES).await;
    let direct = gw
        .client
        .get(format!("{}/v1/users/not-a-uuid", gw.mocks.users.url()))
        .send()
        .await
        .unwrap();
    let (direct_status, direct_body) = (direct.status(), direct.bytes().await.unwrap());
    let proxied = gw
        .client
        .get(gw.url("/v1/users/not-a-uuid"))
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), direct_status);
    assert_eq!(proxied.bytes().await.unwrap(), direct_body);

    let teapot = gw
        .client
        .get(gw.url("/echo/x"))
        .header("x-echo-status", "418")
        .header("x-echo-set-header", "x-custom=kept")
        .send()
        .await
        .unwrap();
    assert_eq!(teapot.status(), 418);
    assert_eq!(teapot.headers()["x-custom"], "kept");
}
