//! The one upstream-request builder, seen from the backends: every handler
//! kind (proxy, gRPC unary / server stream / passthrough / gRPC-Web,
//! composition calls of every kind, GraphQL subgraph fetches and
//! subscriptions) sends the same family — the request id and the
//! forwarding headers — and the `propagate:` rules decide which client
//! headers reach composition calls and subgraphs.

use futures::SinkExt;
use http::HeaderMap;
use mock_backends::proto::GetOrderRequest;
use mock_backends::proto::order_service_client::OrderServiceClient;
use mock_backends::seed::{FIRST_ORDER_ID, PENDING_ORDER_ID};
use mock_backends::{Control, RecordedRequest};
use prost::Message as _;
use serde_json::json;
use tests::federation::FederatedGateway;
use tests::gateway::eventually;
use tests::grpc::create_order_json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const ORDER_QUERY: &str = "query($id: ID!) { order(id: $id) { id customer { name } } }";

const FAMILY_ROUTES: &str = r#"
backends:
  orders: { url: $ORDERS }
  orders-grpc: { url: $ORDERS_GRPC, protocol: h2c }
  orders-graph: { url: $ORDERS_SUBGRAPH }
grpc:
  protos: [proto/orders.proto]
  include: [proto]
  annotations:
    - { backend: orders-grpc, prefix: /grpc, services: [orders.OrderService] }
routes:
  - path: /v1/orders/{id}
    backend: orders
  - path: /grpc/v1/orders/{order_id}/watch
    method: GET
    grpc: { backend: orders-grpc, method: orders.OrderService/WatchOrder }
  - path: /grpc/v1/orders:batch
    method: POST
    grpc: { backend: orders-grpc, method: orders.OrderService/CreateOrders }
  - path: /grpc/v1/orders/updates
    method: GET
    grpc: { backend: orders-grpc, method: orders.OrderService/OrderUpdates }
  - path: /orders.OrderService/{*rpc}
    method: POST
    grpc: { backend: orders-grpc, passthrough: true }
  - path: /composed/{id}
    method: GET
    compose:
      calls:
        rest: { backend: orders, path: "/v1/orders/{id}" }
        rpc: { backend: orders-grpc, grpc: orders.OrderService/GetOrder, body: { order_id: "{id}" } }
        graph:
          backend: orders-graph
          graphql: "query($id: ID!) { order(id: $id) { id } }"
          variables: { id: "{id}" }
          data: order
graphql:
  supergraph: $SUPERGRAPH
"#;

/// The request id and the forwarding family, as a direct client on
/// 127.0.0.1 talking to `host` makes the gateway send them.
fn assert_family(what: &str, headers: &HeaderMap, request_id: &str, host: &str) {
    let expect = |name: &str, value: &str| {
        assert_eq!(
            headers.get(name).and_then(|v| v.to_str().ok()),
            Some(value),
            "{what}: {name} in {headers:?}"
        );
    };
    expect("x-request-id", request_id);
    expect("x-forwarded-for", "127.0.0.1");
    expect("x-forwarded-proto", "http");
    expect("x-forwarded-host", host);
    expect("x-real-ip", "127.0.0.1");
    expect(
        "forwarded",
        &format!("for=127.0.0.1;proto=http;host=\"{host}\""),
    );
}

/// The one request `control` recorded whose path starts with `prefix`.
fn recorded(control: &Control, prefix: &str) -> RecordedRequest {
    let matching: Vec<_> = control
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with(prefix))
        .collect();
    assert_eq!(matching.len(), 1, "requests to {prefix}: {matching:?}");
    matching.into_iter().next().unwrap()
}

fn clear(fed: &FederatedGateway) {
    fed.gw.mocks.orders.control.clear_requests();
    fed.gw.mocks.orders_grpc.control.clear_requests();
    fed.subgraphs.orders.control.clear_requests();
    fed.subgraphs.users.control.clear_requests();
}

#[tokio::test]
async fn proxy_grpc_and_compose_send_the_same_family() {
    let fed = FederatedGateway::start(FAMILY_ROUTES).await;
    let gw = &fed.gw;
    let host = gw.gateway.addr.to_string();
    let get = |path: &str, id: &str| {
        gw.client
            .get(gw.url(path))
            .header("x-request-id", id)
            // A direct client's forwarding headers are not believed.
            .header("x-forwarded-for", "6.6.6.6")
    };
    clear(&fed);
    let response = get(&format!("/v1/orders/{FIRST_ORDER_ID}"), "fam-proxy")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let request = recorded(&gw.mocks.orders.control, "/v1/orders/");
    assert_family("proxy", &request.headers, "fam-proxy", &host);

    clear(&fed);
    let response = get(&format!("/grpc/v1/orders/{FIRST_ORDER_ID}"), "fam-unary")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let request = recorded(
        &gw.mocks.orders_grpc.control,
        "/orders.OrderService/GetOrder",
    );
    assert_family("gRPC unary", &request.headers, "fam-unary", &host);

    clear(&fed);
    let response = get(
        &format!("/grpc/v1/orders/{FIRST_ORDER_ID}/watch"),
        "fam-stream",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let control = &gw.mocks.orders_grpc.control;
    eventually("the stream reaches the backend", || async {
        control.request_count() > 0
    })
    .await;
    let request = recorded(control, "/orders.OrderService/WatchOrder");
    assert_family("gRPC server stream", &request.headers, "fam-stream", &host);
    drop(response);

    clear(&fed);
    let response = get(&format!("/composed/{FIRST_ORDER_ID}"), "fam-compose")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let rest = recorded(&gw.mocks.orders.control, "/v1/orders/");
    assert_family("compose REST call", &rest.headers, "fam-compose", &host);
    let rpc = recorded(
        &gw.mocks.orders_grpc.control,
        "/orders.OrderService/GetOrder",
    );
    assert_family("compose gRPC call", &rpc.headers, "fam-compose", &host);
    let graph = recorded(&fed.subgraphs.orders.control, "/graphql");
    assert_family("compose GraphQL call", &graph.headers, "fam-compose", &host);
}

#[tokio::test]
async fn grpc_client_streams_and_websocket_bidi_send_the_same_family() {
    let fed = FederatedGateway::start(FAMILY_ROUTES).await;
    let gw = &fed.gw;
    let host = gw.gateway.addr.to_string();
    clear(&fed);
    let body = format!("{}\n", create_order_json(1));
    let response = gw
        .client
        .post(gw.url("/grpc/v1/orders:batch"))
        .header("content-type", "application/x-ndjson")
        .header("x-request-id", "fam-client-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let request = recorded(
        &gw.mocks.orders_grpc.control,
        "/orders.OrderService/CreateOrders",
    );
    assert_family(
        "gRPC client stream",
        &request.headers,
        "fam-client-stream",
        &host,
    );

    clear(&fed);
    let mut upgrade = format!("ws://{host}/grpc/v1/orders/updates")
        .into_client_request()
        .unwrap();
    upgrade
        .headers_mut()
        .insert("x-request-id", "fam-bidi".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(upgrade).await.unwrap();
    let command = json!({ "orderId": PENDING_ORDER_ID, "action": "confirm" });
    socket
        .send(Message::text(command.to_string()))
        .await
        .unwrap();
    let control = &gw.mocks.orders_grpc.control;
    eventually("the bidi call reaches the backend", || async {
        control.request_count() > 0
    })
    .await;
    let request = recorded(control, "/orders.OrderService/OrderUpdates");
    assert_family("gRPC WebSocket bidi", &request.headers, "fam-bidi", &host);
}

#[tokio::test]
async fn native_grpc_and_grpc_web_passthrough_send_the_same_family() {
    let fed = FederatedGateway::start(FAMILY_ROUTES).await;
    let gw = &fed.gw;
    let host = gw.gateway.addr.to_string();
    clear(&fed);
    let mut client = OrderServiceClient::connect(format!("http://{host}"))
        .await
        .unwrap();
    let mut request = tonic::Request::new(GetOrderRequest {
        order_id: FIRST_ORDER_ID.to_string(),
    });
    request
        .metadata_mut()
        .insert("x-request-id", "fam-native".parse().unwrap());
    client.get_order(request).await.unwrap();
    let request = recorded(
        &gw.mocks.orders_grpc.control,
        "/orders.OrderService/GetOrder",
    );
    assert_family(
        "native gRPC passthrough",
        &request.headers,
        "fam-native",
        &host,
    );

    clear(&fed);
    let message = GetOrderRequest {
        order_id: FIRST_ORDER_ID.to_string(),
    }
    .encode_to_vec();
    let mut framed = vec![0];
    framed.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(&message);
    let response = gw
        .client
        .post(gw.url("/orders.OrderService/GetOrder"))
        .header("content-type", "application/grpc-web+proto")
        .header("x-request-id", "fam-web")
        .body(framed)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let request = recorded(
        &gw.mocks.orders_grpc.control,
        "/orders.OrderService/GetOrder",
    );
    assert_family("gRPC-Web", &request.headers, "fam-web", &host);
}

#[tokio::test]
async fn graphql_fetches_and_subscriptions_send_the_same_family() {
    let fed = FederatedGateway::start(FAMILY_ROUTES).await;
    let gw = &fed.gw;
    let host = gw.gateway.addr.to_string();
    clear(&fed);
    let response = gw
        .client
        .post(gw.url("/graphql"))
        .header("x-request-id", "fam-graphql")
        .json(&json!({ "query": ORDER_QUERY, "variables": { "id": FIRST_ORDER_ID } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    for (name, subgraph) in [
        ("orders", &fed.subgraphs.orders),
        ("users", &fed.subgraphs.users),
    ] {
        let request = recorded(&subgraph.control, "/graphql");
        assert_family(name, &request.headers, "fam-graphql", &host);
    }

    clear(&fed);
    let subscription = "subscription($id: ID) { orderStatusChanged(id: $id) { status } }";
    let events = gw
        .client
        .post(gw.url("/graphql"))
        .header("accept", "text/event-stream")
        .header("x-request-id", "fam-subscription")
        .json(&json!({ "query": subscription, "variables": { "id": PENDING_ORDER_ID } }))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    eventually("the upstream subscription is open", || async {
        fed.subgraphs.orders.open_subscriptions() == 1
    })
    .await;
    let handshake = recorded(&fed.subgraphs.orders.control, "/graphql");
    assert_eq!(handshake.headers["upgrade"], "websocket");
    assert_family(
        "subscription",
        &handshake.headers,
        "fam-subscription",
        &host,
    );
}

const PROPAGATION_ROUTES: &str = r#"
backends:
  orders: { url: $ORDERS }
propagate:
  all:
    - propagate: { named: authorization }
    - propagate: { named: x-client, default: anonymous }
    - insert: { name: x-gateway, value: edge }
  subgraphs:
    users:
      - remove: { named: authorization }
      - insert: { name: x-gateway, value: users-only }
routes:
  - path: /composed/{id}
    method: GET
    compose:
      calls:
        order:
          backend: orders
          path: "/v1/orders/{id}"
          propagate:
            - propagate: { named: x-tenant, rename: x-tenant-id }
graphql:
  supergraph: $SUPERGRAPH
"#;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn propagation_rules_shape_what_compose_calls_and_subgraphs_receive() {
    let fed = FederatedGateway::start(PROPAGATION_ROUTES).await;
    let gw = &fed.gw;
    clear(&fed);
    let response = gw
        .client
        .get(gw.url(&format!("/composed/{FIRST_ORDER_ID}")))
        .header("authorization", "Bearer c0mpose")
        .header("x-tenant", "acme")
        .header("x-secret", "never-sent")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let call = recorded(&gw.mocks.orders.control, "/v1/orders/");
    assert_eq!(
        header(&call.headers, "authorization"),
        Some("Bearer c0mpose")
    );
    assert_eq!(
        header(&call.headers, "x-tenant-id"),
        Some("acme"),
        "renamed"
    );
    assert_eq!(header(&call.headers, "x-tenant"), None);
    assert_eq!(
        header(&call.headers, "x-client"),
        Some("anonymous"),
        "default"
    );
    assert_eq!(header(&call.headers, "x-gateway"), Some("edge"), "inserted");
    assert_eq!(header(&call.headers, "x-secret"), None, "not listed");

    let response = gw
        .client
        .post(gw.url("/graphql"))
        .header("authorization", "Bearer gr4ph")
        .header("x-client", "web")
        .header("x-tenant", "acme")
        .json(&json!({ "query": ORDER_QUERY, "variables": { "id": FIRST_ORDER_ID } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let orders = recorded(&fed.subgraphs.orders.control, "/graphql").headers;
    assert_eq!(header(&orders, "authorization"), Some("Bearer gr4ph"));
    assert_eq!(header(&orders, "x-client"), Some("web"));
    assert_eq!(header(&orders, "x-gateway"), Some("edge"));
    assert_eq!(header(&orders, "x-tenant-id"), None, "a call's own rule");
    let users = recorded(&fed.subgraphs.users.control, "/graphql").headers;
    assert_eq!(
        header(&users, "authorization"),
        None,
        "the subgraph's own rules beat the global ones"
    );
    assert_eq!(header(&users, "x-gateway"), Some("users-only"));
    assert_eq!(header(&users, "x-client"), Some("web"));
}

#[tokio::test]
async fn without_rules_no_client_header_is_propagated() {
    let yaml = PROPAGATION_ROUTES
        .split("propagate:\n  all:")
        .next()
        .unwrap()
        .to_owned()
        + "routes:\n  - path: /composed/{id}\n    method: GET\n    compose:\n      calls:\n        order: { backend: orders, path: \"/v1/orders/{id}\" }\ngraphql:\n  supergraph: $SUPERGRAPH\n";
    let fed = FederatedGateway::start(&yaml).await;
    let gw = &fed.gw;
    clear(&fed);
    let composed = gw
        .client
        .get(gw.url(&format!("/composed/{FIRST_ORDER_ID}")))
        .header("authorization", "Bearer t")
        .send()
        .await
        .unwrap();
    assert_eq!(composed.status(), 200);
    let graphql = gw
        .client
        .post(gw.url("/graphql"))
        .header("authorization", "Bearer t")
        .json(&json!({ "query": ORDER_QUERY, "variables": { "id": FIRST_ORDER_ID } }))
        .send()
        .await
        .unwrap();
    assert_eq!(graphql.status(), 200);
    for (what, control) in [
        ("compose call", &gw.mocks.orders.control),
        ("subgraph", &fed.subgraphs.orders.control),
    ] {
        let prefix = if what == "subgraph" {
            "/graphql"
        } else {
            "/v1/orders/"
        };
        let request = recorded(control, prefix);
        assert_eq!(header(&request.headers, "authorization"), None, "{what}");
        assert!(request.headers.contains_key("x-request-id"), "{what}");
        assert!(request.headers.contains_key("x-forwarded-for"), "{what}");
    }
}
