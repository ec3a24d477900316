//! CORS as a real browser enforces it: a page served from one origin
//! (`http://127.0.0.1:A`) runs `fetch` in headless Chromium against the
//! real gateway (`http://127.0.0.1:B`) and the real mocks. What the page
//! could read is what the assertions check; the mocks' request logs and
//! the gateway's metrics prove which requests reached a backend and which
//! preflights the browser sent. Skipped (saying so) without Chromium,
//! except in CI (`GATEWAY_TESTS_REQUIRE_CHROMIUM`). One browser and one
//! gateway serve every case, in turn.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use mock_backends::proto::{GetOrderRequest, Order};
use mock_backends::seed;
use prost::Message as _;
use serde_json::{Value, json};
use tests::auth::SigningKey;
use tests::browser::{Browser, PageOrigins};
use tests::gateway::TestGateway;
use tests::grpc::split_web_body;
use tests::metrics::scrape;

const HS_SECRET: &str = "browser-test-secret-of-at-least-32-bytes";

fn routes(page: &str) -> String {
    format!(
        r#"
backends:
  users: {{ url: $USERS }}
  orders-grpc: {{ url: $ORDERS_GRPC, protocol: h2c }}
auth:
  jwt_providers:
    session:
      issuer: https://login.test
      algorithms: [HS256]
      secret: {{ value: "{HS_SECRET}" }}
      token_from: {{ bearer: false, cookies: [session] }}
      forward_claims: {{ sub: x-user-id }}
routes:
  - name: simple
    path: /simple/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
    cors: {{ allow_origins: ["{page}"], expose_headers: [x-request-id] }}
  - name: preflighted
    path: /preflighted/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
    cors:
      allow_origins: ["{page}"]
      allow_methods: [GET, PUT]
      allow_headers: [content-type, x-client-tag, x-echo-set-header]
      expose_headers: [x-request-id]
      max_age: 10m
  - name: credentialed
    path: /account/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
    cors: {{ allow_origins: ["{page}"], allow_credentials: true }}
    auth: {{ jwt: session }}
  - name: grpc-web
    path: /orders.OrderService/{{method}}
    grpc: {{ backend: orders-grpc, passthrough: true }}
    cors: {{ allow_origins: ["{page}"] }}
"#
    )
}

#[tokio::test]
async fn a_page_in_headless_chromium_calls_the_gateway_cross_origin() {
    let Some(browser) = Browser::start_or_skip("cors_browser").await else {
        return;
    };
    let pages = PageOrigins::start(2).await;
    let (allowed, refused) = (pages.origin(0), pages.origin(1));
    let gw = TestGateway::start(&routes(allowed)).await;

    browser.client.goto(&format!("{allowed}/")).await.unwrap();
    simple_get(&browser, &gw, allowed).await;
    preflighted_put(&browser, &gw).await;
    credentialed(&browser, &gw).await;
    grpc_web(&browser, &gw).await;

    browser.client.goto(&format!("{refused}/")).await.unwrap();
    refused_origin(&browser, &gw).await;
    browser.close().await;
}

/// The users mock's recorded requests, as `METHOD path`.
fn users_log(gw: &TestGateway) -> Vec<String> {
    gw.mocks
        .users
        .control
        .requests()
        .iter()
        .map(|request| format!("{} {}", request.method, request.path))
        .collect()
}

/// How many preflights of `route` the gateway answered (with 2xx).
async fn preflights(gw: &TestGateway, route: &str) -> f64 {
    scrape(gw).await.histogram_count(
        "http_server_request_duration_seconds",
        &[
            ("route", route),
            ("http_request_method", "OPTIONS"),
            ("status_class", "2xx"),
        ],
    )
}

fn body_json(result: &Value) -> Value {
    serde_json::from_str(result["body"].as_str().expect("a text body")).expect("a JSON body")
}

async fn simple_get(browser: &Browser, gw: &TestGateway, page: &str) {
    let result = browser.fetch(&gw.url("/simple/hello?x=1"), json!({})).await;
    assert_eq!(result["ok"], true, "simple GET: {result}");
    assert_eq!(result["status"], 200);
    // Exposed: readable by the script.
    assert!(result["headers"]["x-request-id"].is_string(), "{result}");
    let echoed = body_json(&result);
    assert_eq!(echoed["method"], "GET");
    assert_eq!(echoed["headers"]["origin"][0], page, "the browser's Origin");
    assert_eq!(preflights(gw, "simple").await, 0.0, "no preflight needed");
}

async fn preflighted_put(browser: &Browser, gw: &TestGateway) {
    gw.mocks.users.control.clear_requests();
    let init = json!({
        "method": "PUT",
        "headers": {
            "content-type": "application/json",
            "x-client-tag": "t1",
            "x-echo-set-header": "x-internal=secret",
        },
        "body": "{\"quantity\":2}",
    });
    let result = browser.fetch(&gw.url("/preflighted/items/7"), init).await;
    assert_eq!(result["ok"], true, "preflighted PUT: {result}");
    assert_eq!(result["status"], 200);
    let echoed = body_json(&result);
    assert_eq!(echoed["method"], "PUT");
    assert_eq!(echoed["headers"]["x-client-tag"][0], "t1");
    assert_eq!(echoed["body_len"], 14);
    // Only exposed headers reach the script.
    assert!(result["headers"]["x-request-id"].is_string(), "{result}");
    assert!(result["headers"]["x-internal"].is_null(), "{result}");
    assert_eq!(
        preflights(gw, "preflighted").await,
        1.0,
        "the browser preflighted the PUT"
    );
    assert_eq!(
        users_log(gw),
        ["PUT /debug/echo/items/7"],
        "the preflight was answered by the gateway, never forwarded"
    );

    // A header the policy does not allow: the preflight says no, so the
    // browser never sends the request.
    let init = json!({ "method": "PUT", "headers": { "x-not-allowed": "1" } });
    let result = browser.fetch(&gw.url("/preflighted/items/8"), init).await;
    assert_eq!(result["ok"], false, "a refused preflight: {result}");
    assert_eq!(preflights(gw, "preflighted").await, 2.0);
    assert_eq!(users_log(gw), ["PUT /debug/echo/items/7"]);
}

async fn credentialed(browser: &Browser, gw: &TestGateway) {
    gw.mocks.users.control.clear_requests();
    let token = SigningKey::hmac(HS_SECRET.as_bytes()).sign(&json!({
        "iss": "https://login.test",
        "sub": "user-7",
        "exp": tests::auth::now() + 600,
    }));
    // The page's cookie: host-only on 127.0.0.1, so sent to the gateway's
    // port too, but only with `credentials: "include"`.
    browser
        .client
        .execute(
            "document.cookie = arguments[0]",
            vec![json!(format!("session={token}; path=/"))],
        )
        .await
        .unwrap();
    let url = gw.url("/account/me");
    let result = browser
        .fetch(&url, json!({ "credentials": "include" }))
        .await;
    assert_eq!(result["ok"], true, "credentialed GET: {result}");
    assert_eq!(result["status"], 200);
    let echoed = body_json(&result);
    assert_eq!(echoed["headers"]["x-user-id"][0], "user-7");

    // Without credentials the cookie stays home: the 401 carries the CORS
    // headers, so the script reads the refusal and its JSON body.
    let result = browser.fetch(&url, json!({ "credentials": "omit" })).await;
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["status"], 401);
    assert_eq!(body_json(&result)["error"]["code"], "AUTH_REQUIRED");

    // A credentialed request to a route without `allow_credentials`: it is
    // sent (a simple GET) but the browser withholds the response.
    let result = browser
        .fetch(
            &gw.url("/simple/cookie"),
            json!({ "credentials": "include" }),
        )
        .await;
    assert_eq!(result["ok"], false, "{result}");
    assert_eq!(
        users_log(gw),
        ["GET /debug/echo/me", "GET /debug/echo/cookie"]
    );
}

/// A gRPC-Web frame.
fn frame(flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![flags];
    out.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    out.extend_from_slice(payload);
    out
}

async fn grpc_web(browser: &Browser, gw: &TestGateway) {
    let url = gw.url("/orders.OrderService/GetOrder");
    let call = |order_id: String| {
        let body = frame(0, &GetOrderRequest { order_id }.encode_to_vec());
        json!({
            "method": "POST",
            "headers": { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
            "bytes": body,
            "binary": true,
        })
    };
    let result = browser
        .fetch(&url, call(seed::FIRST_ORDER_ID.to_string()))
        .await;
    assert_eq!(result["ok"], true, "gRPC-Web call: {result}");
    assert_eq!(result["status"], 200);
    assert_eq!(preflights(gw, "grpc-web").await, 1.0, "preflighted");
    let body = Bytes::from(
        STANDARD
            .decode(result["body"].as_str().unwrap())
            .expect("base64"),
    );
    let (messages, trailers) = split_web_body(body);
    let order = Order::decode(messages[0].clone()).unwrap();
    assert_eq!(order.id, seed::FIRST_ORDER_ID.to_string());
    assert!(trailers.contains("grpc-status: 0"), "{trailers:?}");

    // A trailers-only error: grpc-status is a response header, readable
    // only because gRPC-Web routes expose it.
    let result = browser
        .fetch(&url, call(uuid::Uuid::new_v4().to_string()))
        .await;
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["headers"]["grpc-status"], "5", "NOT_FOUND: {result}");
    assert!(result["headers"]["grpc-message"].is_string(), "{result}");
    assert_eq!(gw.mocks.orders_grpc.control.request_count(), 2);
}

async fn refused_origin(browser: &Browser, gw: &TestGateway) {
    gw.mocks.users.control.clear_requests();
    let before = preflights(gw, "preflighted").await;
    // A request that needs a preflight: the gateway's answer carries no
    // Access-Control-Allow-Origin, so the browser stops there.
    let init = json!({
        "method": "PUT",
        "headers": { "content-type": "application/json" },
        "body": "{}",
    });
    let result = browser.fetch(&gw.url("/preflighted/items/9"), init).await;
    assert_eq!(result["ok"], false, "a refused origin: {result}");
    assert!(
        result["error"].as_str().unwrap().contains("TypeError"),
        "{result}"
    );
    assert_eq!(
        preflights(gw, "preflighted").await,
        before + 1.0,
        "the browser asked, the gateway answered"
    );
    // A simple request: the browser sends it (CORS guards reading, not
    // sending) but the page cannot read the answer.
    let result = browser.fetch(&gw.url("/simple/read"), json!({})).await;
    assert_eq!(result["ok"], false, "{result}");
    assert_eq!(
        users_log(gw),
        ["GET /debug/echo/read"],
        "the refused preflighted request never reached the backend"
    );
}
