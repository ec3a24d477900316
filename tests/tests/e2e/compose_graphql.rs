//! GraphQL calls in a composition: the call POSTs `{query, variables}`,
//! its value is extracted from `data` by path, and a response with
//! `errors` fails the call. Against a minimal endpoint that records what
//! it receives, and against the federation's orders subgraph.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use mock_backends::seed::FIRST_ORDER_ID;
use serde_json::{Value, json};
use tests::gateway::TestGateway;

/// What the endpoint received: each request's JSON body.
type Received = Arc<Mutex<Vec<Value>>>;

/// Answers `{data: {order: {id, customerId}}}`, or `errors` when the
/// `id` variable is "broken".
async fn graphql_endpoint() -> (SocketAddr, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received: Received = Arc::default();
    let log = Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            let service = hyper::service::service_fn(
                move |request: http::Request<hyper::body::Incoming>| {
                    let log = Arc::clone(&log);
                    async move {
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        let query: Value = serde_json::from_slice(&body).unwrap();
                        let id = query["variables"]["id"].clone();
                        log.lock().unwrap().push(query);
                        let answer = match id.as_str() {
                            Some("broken") => {
                                json!({"data": null, "errors": [{"message": "order service exploded"}]})
                            }
                            _ => {
                                json!({"data": {"order": {"id": id, "customerId": mock_backends::seed::FIRST_CUSTOMER_ID}}})
                            }
                        };
                        let response =
                            http::Response::builder().header("content-type", "application/json");
                        Ok::<_, Infallible>(
                            response
                                .body(Full::new(Bytes::from(answer.to_string())))
                                .unwrap(),
                        )
                    }
                },
            );
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::spawn(connection);
        }
    });
    (addr, received)
}

fn routes(addr: SocketAddr) -> String {
    format!(
        r#"
backends:
  orders-graph: {{ url: "http://{addr}" }}
  users: {{ url: $USERS }}
routes:
  - path: /v1/orders/{{id}}/owner
    method: GET
    compose:
      calls:
        order:
          backend: orders-graph
          graphql: "query Order($id: ID!) {{ order(id: $id) {{ id customerId }} }}"
          variables: {{ id: "{{id}}" }}
          data: order
        customer: {{ backend: users, path: "/v1/users/{{order.customerId}}" }}
      response:
        order: "{{order.id}}"
        owner: "{{customer.name}}"
"#
    )
}

#[tokio::test]
async fn a_graphql_call_feeds_a_rest_call() {
    let (addr, received) = graphql_endpoint().await;
    let gw = TestGateway::start(&routes(addr)).await;
    let response = gw
        .client
        .get(gw.url(&format!("/v1/orders/{FIRST_ORDER_ID}/owner")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"order": FIRST_ORDER_ID.to_string(), "owner": "John Doe"})
    );
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    assert!(
        received[0]["query"]
            .as_str()
            .unwrap()
            .starts_with("query Order")
    );
    assert_eq!(
        received[0]["variables"],
        json!({"id": FIRST_ORDER_ID.to_string()})
    );
}

#[tokio::test]
async fn graphql_errors_fail_the_call() {
    let (addr, _) = graphql_endpoint().await;
    let gw = TestGateway::start(&routes(addr)).await;
    let response = gw
        .client
        .get(gw.url("/v1/orders/broken/owner"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "UPSTREAM_GRAPHQL_ERRORS");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("order service exploded"),
        "{body}"
    );
    assert_eq!(gw.mocks.users.control.request_count(), 0);
}

/// The federation's orders subgraph (async-graphql) feeding a REST call.
mod against_the_orders_subgraph {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use mock_backends::seed::{FIRST_ORDER_ID, FIRST_PRODUCT_ID};
    use mock_backends::{MockOptions, Subgraphs};
    use serde_json::Value;
    use tests::gateway::TestGateway;

    async fn start() -> (TestGateway, Subgraphs) {
        let mocks = mock_backends::start_all(MockOptions::ephemeral())
            .await
            .unwrap();
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let subgraphs = Subgraphs::start(Arc::clone(&mocks.store), |_| any_port)
            .await
            .unwrap();
        let yaml = format!(
            r#"
backends:
  orders-subgraph: {{ url: "http://{}" }}
  products: {{ url: $PRODUCTS }}
routes:
  - path: /v1/orders/{{id}}/lines
    method: GET
    compose:
      calls:
        order:
          backend: orders-subgraph
          graphql: "query($id: ID!) {{ order(id: $id) {{ id status items {{ quantity product {{ id }} }} }} }}"
          variables: {{ id: "{{id}}" }}
          data: order
        products: {{ backend: products, path: "/v1/products?ids={{order.items[*].product.id|join}}" }}
      response:
        id: "{{order.id}}"
        status: "{{order.status}}"
        lines:
          $from: "{{order.items}}"
          $join: {{ with: "{{products.items}}", on: product.id, as: detail }}
          $allow: [quantity, detail]
"#,
            subgraphs.orders.addr
        );
        (TestGateway::start_with(mocks, &yaml).await, subgraphs)
    }

    #[tokio::test]
    async fn a_subgraph_query_feeds_a_rest_call() {
        let (gw, subgraphs) = start().await;
        let response = gw
            .client
            .get(gw.url(&format!("/v1/orders/{FIRST_ORDER_ID}/lines")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["id"], FIRST_ORDER_ID.to_string());
        assert_eq!(body["status"], "SHIPPED");
        assert_eq!(body["lines"][0]["quantity"], 2);
        assert_eq!(
            body["lines"][0]["detail"]["id"],
            FIRST_PRODUCT_ID.to_string()
        );
        assert_eq!(body["lines"][0]["detail"]["name"], "Widget");
        assert_eq!(subgraphs.orders.operations().len(), 1);
    }

    #[tokio::test]
    async fn subgraph_errors_fail_the_call() {
        let (gw, _subgraphs) = start().await;
        let response = gw
            .client
            .get(gw.url("/v1/orders/not-a-uuid/lines"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 502);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "UPSTREAM_GRAPHQL_ERRORS");
        assert_eq!(gw.mocks.products.control.request_count(), 0);
    }
}
