//! Routing through the gateway: parameters, rewrites, hosts, methods, and
//! the repository's own routes.yaml.

use serde_json::Value;
use tests::gateway::TestGateway;
use tests::mocks::json_body;

const ROUTES: &str = r#"
backends:
  users: { url: $USERS }
  orders: { url: $ORDERS }
routes:
  - path: /v1/users/{id}
    method: GET
    backend: users
  - path: /api/{*rest}
    backend: users
    rewrite: { strip_prefix: /api }
  - path: /people/{id}/profile
    method: GET
    backend: users
    rewrite: { template: "/debug/echo/users/{id}" }
  - path: /where
    host: tenant-a.example.com
    backend: users
    rewrite: { template: /debug/echo/tenant-a }
  - path: /where
    backend: users
    rewrite: { template: /debug/echo/any-host }
  - path: /v1/orders/{id}
    methods: [GET, DELETE]
    backend: orders
"#;

async fn echo_path(gw: &TestGateway, path: &str, host: Option<&str>) -> String {
    let mut request = gw.client.get(gw.url(path));
    if let Some(host) = host {
        request = request.header("host", host);
    }
    let body = json_body(request).await;
    body["path"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn parameters_reach_the_backend() {
    let gw = TestGateway::start(ROUTES).await;
    let id = mock_backends::seed::FIRST_CUSTOMER_ID;
    let response = gw
        .client
        .get(gw.url(&format!("/v1/users/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["id"], id.to_string());
    let seen = gw.mocks.users.control.requests();
    assert_eq!(seen.last().unwrap().path, format!("/v1/users/{id}"));
}

#[tokio::test]
async fn rewrites_strip_prefixes_and_render_templates_keeping_the_query() {
    let gw = TestGateway::start(ROUTES).await;
    assert_eq!(
        echo_path(&gw, "/api/debug/echo/x?q=1", None).await,
        "/debug/echo/x"
    );
    let recorded = gw.mocks.users.control.requests();
    assert_eq!(recorded.last().unwrap().path, "/debug/echo/x?q=1");
    assert_eq!(
        echo_path(&gw, "/people/a%20b/profile", None).await,
        "/debug/echo/users/a%20b"
    );
}

#[tokio::test]
async fn host_routes_win_over_host_less_ones() {
    let gw = TestGateway::start(ROUTES).await;
    assert_eq!(
        echo_path(&gw, "/where", Some("tenant-a.example.com")).await,
        "/debug/echo/tenant-a"
    );
    assert_eq!(
        echo_path(&gw, "/where", Some("TENANT-A.example.com:8080")).await,
        "/debug/echo/tenant-a"
    );
    assert_eq!(
        echo_path(&gw, "/where", Some("other.example.com")).await,
        "/debug/echo/any-host"
    );
}

#[tokio::test]
async fn h2c_clients_are_served() {
    let gw = TestGateway::start(ROUTES).await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = client
        .get(gw.url("/api/debug/echo/h2"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn the_default_routes_yaml_serves_the_mock_backends() {
    let gw = TestGateway::with_default_routes().await;
    let list = json_body(gw.client.get(gw.url("/v1/orders?page_size=2"))).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
    let order = mock_backends::seed::FIRST_ORDER_ID;
    for path in [
        format!("/v1/orders/{order}"),
        format!("/v1/users/{}", mock_backends::seed::FIRST_CUSTOMER_ID),
        format!("/v1/products/{}", mock_backends::seed::FIRST_PRODUCT_ID),
        format!("/v1/payments/{order}"),
    ] {
        let response = gw.client.get(gw.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}
