//! Error bodies never expose internals, whatever the handler kind: with
//! every backend down, each kind's error (REST JSON, `google.rpc.Status`,
//! trailers-only gRPC, gRPC-Web, composition, GraphQL) is scanned for
//! connection errors, library names, addresses and backend names. And a
//! malformed client body is the client's 400 on every kind that reads one.

use mock_backends::seed::FIRST_ORDER_ID;
use serde_json::json;
use tests::federation::{FederatedGateway, SUPERGRAPH_FILE_CONFIG, first_code};
use tests::gateway::{TestGateway, eventually};
use tests::raw_http::send;

/// What must never reach a client.
const LEAKS: [&str; 11] = [
    "os error",
    "tcp connect",
    "connection refused",
    "error trying to connect",
    "127.0.0.1",
    "hyper",
    "client error",
    "backend \"",
    "orders-grpc",
    "subgraph \"",
    "dns error",
];

fn assert_no_leak(what: &str, text: &str) {
    let lower = text.to_lowercase();
    for leak in LEAKS {
        assert!(!lower.contains(leak), "{what} leaks {leak:?}: {text}");
    }
}

async fn every_backend_down(gw: &TestGateway) {
    for service in [
        &gw.mocks.orders,
        &gw.mocks.orders_grpc,
        &gw.mocks.users,
        &gw.mocks.products,
        &gw.mocks.payments,
    ] {
        service.control.set_down(true).await;
    }
}

/// Status and everything the client can read: headers and body.
async fn visible(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let headers = format!("{:?}", response.headers());
    let body = response.text().await.unwrap_or_default();
    (status, format!("{headers}\n{body}"))
}

#[tokio::test]
async fn upstream_failures_are_generic_on_every_rest_and_grpc_kind() {
    let gw = TestGateway::with_default_routes().await;
    every_backend_down(&gw).await;
    let client = &gw.client;
    let order = FIRST_ORDER_ID;
    let cases = [
        ("proxy", client.get(gw.url(&format!("/v1/orders/{order}")))),
        (
            "compose",
            client.get(gw.url(&format!("/v1/orders/{order}/details"))),
        ),
        (
            "grpc unary",
            client.get(gw.url(&format!("/grpc/v1/orders/{order}"))),
        ),
        (
            "grpc server stream",
            client.get(gw.url(&format!("/grpc/v1/orders/{order}/watch"))),
        ),
        (
            "grpc client stream",
            client
                .post(gw.url("/grpc/v1/orders:batch"))
                .header("content-type", "application/x-ndjson")
                .body("{}\n"),
        ),
        (
            "grpc-web",
            client
                .post(gw.url("/orders.OrderService/GetOrder"))
                .header("content-type", "application/grpc-web+proto")
                .body(vec![0u8, 0, 0, 0, 0]),
        ),
    ];
    for (kind, request) in cases {
        let (status, text) = visible(request.send().await.unwrap()).await;
        assert!(
            status >= 500 || text.contains("grpc-status"),
            "{kind}: {status} {text}"
        );
        assert!(
            text.contains("UPSTREAM_UNAVAILABLE")
                || text.contains("the upstream service is unavailable"),
            "{kind}: {text}"
        );
        assert_no_leak(kind, &text);
    }
    let mut native = mock_backends::proto::order_service_client::OrderServiceClient::connect(
        format!("http://{}", gw.gateway.addr),
    )
    .await
    .unwrap();
    let status = native
        .get_order(mock_backends::proto::GetOrderRequest {
            order_id: FIRST_ORDER_ID.to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert_eq!(status.message(), "the upstream service is unavailable");
    assert_no_leak("native grpc", &format!("{status:?}"));
}

#[tokio::test]
async fn a_subgraph_that_is_down_is_reported_without_its_name_or_error() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    fed.subgraphs.payments.stop();
    let addr = fed.subgraphs.payments.addr;
    eventually("the subgraph refuses connections", || async move {
        tokio::net::TcpStream::connect(addr).await.is_err()
    })
    .await;
    let query = "query($id: ID!) { order(id: $id) { id payment { status } } }";
    let (status, body) = fed.post(query, json!({ "id": FIRST_ORDER_ID })).await;
    assert_eq!(status, 200);
    assert_eq!(first_code(&body), "SUBGRAPH_UNAVAILABLE");
    let text = body.to_string();
    assert_no_leak("graphql", &text);
    assert!(!text.contains("payments"), "{text}");
}

/// A request with a broken chunked body (data longer than its size).
fn broken_body(path: &str, content_type: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: gw\r\nContent-Type: {content_type}\r\n\
         Transfer-Encoding: chunked\r\n\r\n3\r\n{{\"a\":1}}\r\n0\r\n\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn a_malformed_body_is_the_clients_400_on_every_kind_that_reads_one() {
    let gw = TestGateway::with_default_routes().await;
    let addr = gw.gateway.addr;
    let json_kinds = [
        ("proxy", "/v1/orders", "application/json"),
        ("grpc unary", "/grpc/v1/orders", "application/json"),
        (
            "grpc client stream",
            "/grpc/v1/orders:batch",
            "application/x-ndjson",
        ),
    ];
    for (kind, path, content_type) in json_kinds {
        let answer = send(addr, &broken_body(path, content_type)).await;
        assert_eq!(answer.status, 400, "{kind}: {answer:?}");
        let body = answer.json();
        let code = body["error"]["code"]
            .as_str()
            .or_else(|| body["details"][0]["reason"].as_str())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(code, "BAD_REQUEST_BODY", "{kind}: {answer:?}");
        assert_no_leak(kind, &answer.body);
    }
    let graphql = send(addr, &broken_body("/graphql", "application/json")).await;
    assert_eq!(graphql.status, 400, "{graphql:?}");
    assert_eq!(
        graphql.json()["errors"][0]["extensions"]["code"],
        "BAD_REQUEST_BODY"
    );
    let web = send(
        addr,
        &broken_body(
            "/orders.OrderService/GetOrder",
            "application/grpc-web+proto",
        ),
    )
    .await;
    assert_eq!(web.header("grpc-status"), Some("3"), "{web:?}");
    assert_no_leak("grpc-web", &format!("{web:?}"));
    // gRPC-Web text whose base64 is broken: the client's body, not the backend.
    let text = send(
        addr,
        b"POST /orders.OrderService/GetOrder HTTP/1.1\r\nHost: gw\r\n\
          Content-Type: application/grpc-web-text\r\nContent-Length: 8\r\n\
          Connection: close\r\n\r\n!!!!????",
    )
    .await;
    assert_eq!(text.header("grpc-status"), Some("3"), "{text:?}");
    assert_eq!(
        text.header("grpc-message"),
        Some("the request body is malformed or was cut short"),
        "{text:?}"
    );
}
