//! Who the client is: forwarding headers from direct clients are replaced,
//! a trusted proxy's chain is kept and extended, header names with `_`
//! are dropped (or refused, or kept, by policy), and every handler kind
//! sends the same client address upstream.

use serde_json::Value;
use tests::gateway::TestGateway;

fn routes(server: &str) -> String {
    format!(
        r#"
server:
{server}
backends:
  users: {{ url: $USERS }}
  orders: {{ url: $ORDERS }}
routes:
  - path: /echo/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
  - path: /composed/{{id}}
    method: GET
    compose:
      calls:
        user: {{ backend: users, path: "/v1/users/{{id}}" }}
      response: {{ user: "{{user}}" }}
"#
    )
}

async fn echo(gw: &TestGateway, headers: &[(&str, &str)]) -> Value {
    let mut request = gw.client.get(gw.url("/echo/who"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().json().await.unwrap()
}

fn header<'a>(echo: &'a Value, name: &str) -> Vec<&'a str> {
    echo["headers"][name]
        .as_array()
        .map(|values| values.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

const SPOOFS: [(&str, &str); 5] = [
    ("x-forwarded-for", "6.6.6.6"),
    ("x-real-ip", "6.6.6.6"),
    ("forwarded", "for=6.6.6.6"),
    ("x_forwarded_for", "6.6.6.6"),
    ("x_real_ip", "6.6.6.6"),
];

#[tokio::test]
async fn a_direct_client_cannot_choose_its_address() {
    let gw = TestGateway::start(&routes("  workers: 1")).await;
    let seen = echo(&gw, &SPOOFS).await;
    assert_eq!(
        header(&seen, "x-forwarded-for"),
        vec!["127.0.0.1"],
        "{seen}"
    );
    assert_eq!(header(&seen, "x-real-ip"), vec!["127.0.0.1"], "{seen}");
    assert_eq!(header(&seen, "forwarded").len(), 1, "{seen}");
    assert!(
        !seen.to_string().contains("6.6.6.6"),
        "a spoof got through: {seen}"
    );
    assert!(header(&seen, "x_forwarded_for").is_empty());
}

#[tokio::test]
async fn a_trusted_proxys_chain_is_kept_and_the_client_taken_from_it() {
    let gw = TestGateway::start(&routes("  trusted_proxies: [127.0.0.1/32, 10.0.0.0/8]")).await;
    let seen = echo(
        &gw,
        &[
            ("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.1.1.1"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    assert_eq!(
        header(&seen, "x-forwarded-for"),
        vec!["6.6.6.6, 203.0.113.9, 10.1.1.1, 127.0.0.1"],
        "{seen}"
    );
    // The rightmost hop that is not a trusted proxy is the client.
    assert_eq!(header(&seen, "x-real-ip"), vec!["203.0.113.9"], "{seen}");
    assert_eq!(header(&seen, "x-forwarded-proto"), vec!["https"], "{seen}");
}

#[tokio::test]
async fn underscore_headers_can_be_refused_or_allowed() {
    let reject = TestGateway::start(&routes("  headers_with_underscores: reject")).await;
    let response = reject
        .client
        .get(reject.url("/echo/who"))
        .header("x_forwarded_for", "6.6.6.6")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "UNDERSCORE_HEADER");
    let allow = TestGateway::start(&routes("  headers_with_underscores: allow")).await;
    let seen = echo(&allow, &[("x_custom", "1")]).await;
    assert_eq!(header(&seen, "x_custom"), vec!["1"], "{seen}");
}

#[tokio::test]
async fn composition_calls_carry_the_same_client_address() {
    let gw = TestGateway::start(&routes("  workers: 1")).await;
    let response = gw
        .client
        .get(gw.url(&format!(
            "/composed/{}",
            mock_backends::seed::FIRST_CUSTOMER_ID
        )))
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-real-ip", "6.6.6.6")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let calls = gw.mocks.users.control.requests();
    let call = calls
        .iter()
        .find(|r| r.path.starts_with("/v1/users/"))
        .expect("the composition called users");
    assert_eq!(call.headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(call.headers["x-real-ip"], "127.0.0.1");
}

#[tokio::test]
async fn grpc_passthrough_and_transcoded_calls_carry_the_same_client_address() {
    let gw = tests::grpc::bridge().await;
    let url = gw.url(&format!(
        "/grpc/v1/orders/{}",
        mock_backends::seed::FIRST_ORDER_ID
    ));
    let transcoded = gw
        .client
        .get(url)
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-real-ip", "6.6.6.6")
        .send()
        .await
        .unwrap();
    assert_eq!(transcoded.status(), 200);
    let mut client = mock_backends::proto::order_service_client::OrderServiceClient::connect(
        format!("http://{}", gw.gateway.addr),
    )
    .await
    .unwrap();
    let mut native = tonic::Request::new(mock_backends::proto::GetOrderRequest {
        order_id: mock_backends::seed::FIRST_ORDER_ID.to_string(),
    });
    native
        .metadata_mut()
        .insert("x-forwarded-for", "6.6.6.6".parse().unwrap());
    native
        .metadata_mut()
        .insert("x-real-ip", "6.6.6.6".parse().unwrap());
    client.get_order(native).await.unwrap();
    let calls = tests::grpc::grpc_calls(&gw, "GetOrder");
    assert_eq!(calls.len(), 2, "{calls:?}");
    for call in calls {
        assert_eq!(call.headers["x-forwarded-for"], "127.0.0.1", "{call:?}");
        assert_eq!(call.headers["x-real-ip"], "127.0.0.1", "{call:?}");
    }
}
