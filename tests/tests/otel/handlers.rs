//! One trace per request, for each handler kind: the server span is the
//! root (or continues the client's), every upstream call is a client span
//! under it, and each mock received that span's context in `traceparent`.

use mock_backends::seed::FIRST_ORDER_ID;
use serde_json::json;
use tests::federation::{FederatedGateway, SUPERGRAPH_FILE_CONFIG};
use tests::gateway::TestGateway;
use tests::grpc::{StreamReader, new_order_id, set_status, watch_order};
use tests::otlp::{SPAN_KIND_INTERNAL, SPAN_KIND_SERVER};

use super::{
    SERVICE_NAME, assert_upstreams_in_trace, client_spans, server_span, spans_of, traceparent,
    traces,
};

#[tokio::test]
async fn a_proxied_request_is_one_server_span_over_one_client_span() {
    traces();
    let gw = TestGateway::with_default_routes().await;
    let response = gw
        .client
        .get(gw.url(&format!("/v1/orders/{FIRST_ORDER_ID}?verbose=1")))
        .header("user-agent", "trace-test")
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200);
    response.bytes().await.expect("body");
    let recorded = gw.mocks.orders.control.requests();
    let (trace_id, _) = traceparent(&recorded[0]);
    let spans = spans_of(&trace_id, |spans| spans.len() >= 2).await;
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let server = server_span(&spans);
    assert_eq!(
        server.parent_span_id, "",
        "a new trace: the server span is its root"
    );
    assert_eq!(server.name, "GET /v1/orders/{id}");
    assert_eq!(
        server.attribute("http.route"),
        Some("/v1/orders/{id}"),
        "the pattern, never the raw path"
    );
    assert_eq!(server.attribute("http.request.method"), Some("GET"));
    assert_eq!(server.attribute("http.response.status_code"), Some("200"));
    assert_eq!(server.attribute("client.address"), Some("127.0.0.1"));
    assert_eq!(server.attribute("user_agent.original"), Some("trace-test"));
    assert_eq!(
        server.resource.get("service.name").map(String::as_str),
        Some(SERVICE_NAME)
    );
    assert_eq!(
        server
            .resource
            .get("deployment.environment")
            .map(String::as_str),
        Some("test")
    );
    let clients = assert_upstreams_in_trace(&spans, &trace_id, &recorded);
    let client = clients[0];
    assert_eq!(client.parent_span_id, server.span_id);
    assert_eq!(client.attribute("http.response.status_code"), Some("200"));
    assert_eq!(client.attribute("server.address"), Some("127.0.0.1"));
    assert_eq!(client.attribute("gateway.backend"), Some("orders"));
    let url = client.attribute("url.full").expect("url.full");
    assert!(
        url.ends_with(&format!("/v1/orders/{FIRST_ORDER_ID}")),
        "no query in url.full: {url}"
    );
}

#[tokio::test]
async fn an_upstream_error_is_recorded_on_the_spans_that_failed() {
    traces();
    let gw = TestGateway::with_default_routes().await;
    gw.mocks.orders.control.set_down(true).await;
    let response = gw
        .client
        .get(gw.url(&format!("/v1/orders/{FIRST_ORDER_ID}")))
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 502);
    let spans = spans_of("0af7651916cd43dd8448eb211c80319c", |spans| spans.len() >= 2).await;
    let server = server_span(&spans);
    assert_eq!(server.attribute("http.response.status_code"), Some("502"));
    assert_eq!(server.status_code, tests::otlp::STATUS_ERROR);
    assert!(
        server
            .attribute("error.type")
            .is_some_and(|code| !code.is_empty())
    );
    let client = client_spans(&spans)[0];
    assert_eq!(client.status_code, tests::otlp::STATUS_ERROR, "{client:#?}");
    assert_eq!(client.attribute("error.type"), Some("connect_failed"));
}

#[tokio::test]
async fn a_transcoded_grpc_call_is_a_client_span_with_rpc_attributes() {
    traces();
    let gw = TestGateway::with_default_routes().await;
    let response = gw
        .client
        .get(gw.url(&format!("/grpc/v1/orders/{FIRST_ORDER_ID}")))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200);
    response.bytes().await.expect("body");
    let recorded = gw.mocks.orders_grpc.control.requests();
    let (trace_id, _) = traceparent(&recorded[0]);
    let spans = spans_of(&trace_id, |spans| spans.len() >= 2).await;
    let server = server_span(&spans);
    assert_eq!(
        server.attribute("http.route"),
        Some("/grpc/v1/orders/{order_id}")
    );
    let clients = assert_upstreams_in_trace(&spans, &trace_id, &recorded);
    let client = clients[0];
    assert_eq!(client.parent_span_id, server.span_id);
    assert_eq!(client.name, "orders.OrderService/GetOrder");
    assert_eq!(client.attribute("rpc.system"), Some("grpc"));
    assert_eq!(client.attribute("rpc.service"), Some("orders.OrderService"));
    assert_eq!(client.attribute("rpc.method"), Some("GetOrder"));
    assert_eq!(client.attribute("rpc.grpc.status_code"), Some("0"));
}

#[tokio::test]
async fn a_server_stream_is_traced_until_it_ends() {
    traces();
    let gw = TestGateway::with_default_routes().await;
    let id = new_order_id(&gw).await;
    let response = watch_order(&gw, &id, false).await;
    let mut lines = StreamReader::ndjson(response);
    set_status(&gw, &id, "confirmed").await;
    assert!(lines.next_json().await.is_some(), "a first update");
    // The client leaves: the stream, and its spans, end.
    drop(lines);
    let recorded: Vec<_> = gw
        .mocks
        .orders_grpc
        .control
        .requests()
        .into_iter()
        .filter(|request| request.path.ends_with("/WatchOrder"))
        .collect();
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    let (trace_id, _) = traceparent(&recorded[0]);
    let spans = spans_of(&trace_id, |spans| spans.len() >= 2).await;
    let server = server_span(&spans);
    assert_eq!(
        server.attribute("http.route"),
        Some("/grpc/v1/orders/{order_id}/watch")
    );
    let clients = assert_upstreams_in_trace(&spans, &trace_id, &recorded);
    assert_eq!(clients[0].name, "orders.OrderService/WatchOrder");
    assert_eq!(clients[0].parent_span_id, server.span_id);
}

#[tokio::test]
async fn the_composed_order_details_route_is_four_client_spans_under_call_spans() {
    traces();
    let gw = TestGateway::with_default_routes().await;
    let response = gw
        .client
        .get(gw.url(&format!("/v1/orders/{FIRST_ORDER_ID}/details")))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200);
    response.bytes().await.expect("body");
    let mocks = &gw.mocks;
    let recorded: Vec<_> = [
        &mocks.orders,
        &mocks.users,
        &mocks.products,
        &mocks.payments,
    ]
    .iter()
    .flat_map(|service| service.control.requests())
    .collect();
    assert_eq!(recorded.len(), 4, "{recorded:#?}");
    let (trace_id, _) = traceparent(&recorded[0]);
    let spans = spans_of(&trace_id, |spans| {
        client_spans(spans).len() >= 4 && spans.len() >= 9
    })
    .await;
    let server = server_span(&spans);
    assert_eq!(
        server.attribute("http.route"),
        Some("/v1/orders/{id}/details")
    );
    let clients = assert_upstreams_in_trace(&spans, &trace_id, &recorded);
    // One internal span per compose call, child of the server span, parent
    // of its upstream attempt.
    for client in &clients {
        let call = spans
            .iter()
            .find(|s| s.span_id == client.parent_span_id)
            .expect("the call span");
        assert_eq!(call.kind, SPAN_KIND_INTERNAL, "{call:#?}");
        assert_eq!(call.parent_span_id, server.span_id);
        assert_eq!(call.attribute("gateway.compose.cache_hit"), Some("false"));
        assert_eq!(call.attribute("gateway.compose.coalesced"), Some("false"));
    }
    // payment needs only the route's id: it runs with order; customer and
    // products need order, and run together once it is back.
    let by_backend = |backend: &str| {
        *clients
            .iter()
            .find(|c| c.attribute("gateway.backend") == Some(backend))
            .unwrap_or_else(|| panic!("a client span to {backend}"))
    };
    let (order, customer, products, payment) = (
        by_backend("orders"),
        by_backend("users"),
        by_backend("products"),
        by_backend("payments"),
    );
    assert!(order.overlaps(payment), "order and payment overlap");
    assert!(customer.overlaps(products), "customer and products overlap");
    for later in [customer, products] {
        assert!(
            later.start_unix_nanos >= order.end_unix_nanos,
            "order comes first"
        );
    }
}

const ORDER_ACROSS_SUBGRAPHS: &str = r#"
query Order($id: ID!) {
  order(id: $id) {
    id status
    customer { name }
    items { quantity product { name } }
    payment { status }
  }
}"#;

#[tokio::test]
async fn a_graphql_query_is_parse_validate_plan_and_one_span_per_subgraph_fetch() {
    traces();
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let subgraphs = &fed.subgraphs;
    // Composing the supergraph fetched their SDLs: not this request's.
    for subgraph in [
        &subgraphs.orders,
        &subgraphs.users,
        &subgraphs.products,
        &subgraphs.payments,
    ] {
        subgraph.control.clear_requests();
    }
    fed.data(ORDER_ACROSS_SUBGRAPHS, json!({ "id": FIRST_ORDER_ID }))
        .await;
    let recorded: Vec<_> = [
        &subgraphs.orders,
        &subgraphs.users,
        &subgraphs.products,
        &subgraphs.payments,
    ]
    .iter()
    .flat_map(|subgraph| subgraph.control.requests())
    .collect();
    assert!(recorded.len() >= 3, "several subgraphs: {recorded:#?}");
    let (trace_id, _) = traceparent(&recorded[0]);
    let expected_clients = recorded.len();
    let spans = spans_of(&trace_id, |spans| {
        client_spans(spans).len() >= expected_clients
            && spans.iter().any(|s| s.kind == SPAN_KIND_SERVER)
    })
    .await;
    let server = server_span(&spans);
    assert_eq!(server.attribute("http.route"), Some("/graphql"));
    let clients = assert_upstreams_in_trace(&spans, &trace_id, &recorded);
    for client in &clients {
        let fetch = spans
            .iter()
            .find(|s| s.span_id == client.parent_span_id)
            .expect("the fetch span");
        assert_eq!(fetch.name, "subgraph fetch", "{fetch:#?}");
        assert!(
            fetch
                .attribute("graphql.subgraph.name")
                .is_some_and(|n| !n.is_empty())
        );
        assert!(fetch.attribute("graphql.entity.count").is_some());
    }
    for step in ["graphql parse", "graphql validate", "graphql plan"] {
        let span = spans
            .iter()
            .find(|s| s.name == step)
            .unwrap_or_else(|| panic!("a {step} span: {spans:#?}"));
        assert!(
            super::descends_from(&spans, span, server),
            "{step} is under the server span"
        );
    }
    let plan = spans
        .iter()
        .find(|s| s.name == "graphql plan")
        .expect("plan");
    assert_eq!(plan.attribute("graphql.plan.cache_hit"), Some("false"));
}

#[tokio::test]
async fn a_websocket_session_runs_in_its_request_span() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    traces();
    let gw = TestGateway::with_default_routes().await;
    let url = format!("ws://{}/grpc/v1/orders/updates", gw.gateway.addr);
    let (mut socket, response) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket upgrade");
    assert_eq!(response.status(), 101);
    let command =
        json!({"orderId": mock_backends::seed::PENDING_ORDER_ID.to_string(), "action": "confirm"});
    socket
        .send(Message::text(command.to_string()))
        .await
        .expect("frame sent");
    let event = tests::mocks::within("an event", socket.next()).await;
    assert!(matches!(event, Some(Ok(Message::Text(_)))), "{event:?}");
    socket.close(None).await.expect("close sent");
    while let Some(Ok(_)) = socket.next().await {}
    let recorded: Vec<_> = gw
        .mocks
        .orders_grpc
        .control
        .requests()
        .into_iter()
        .filter(|request| request.path.ends_with("/OrderUpdates"))
        .collect();
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    let (trace_id, _) = traceparent(&recorded[0]);
    let spans = spans_of(&trace_id, |spans| spans.len() >= 2).await;
    let server = server_span(&spans);
    assert_eq!(
        server.attribute("http.route"),
        Some("/grpc/v1/orders/updates")
    );
    assert_eq!(server.attribute("http.response.status_code"), Some("101"));
    let clients = assert_upstreams_in_trace(&spans, &trace_id, &recorded);
    assert_eq!(clients[0].name, "orders.OrderService/OrderUpdates");
    assert_eq!(clients[0].parent_span_id, server.span_id);
}
