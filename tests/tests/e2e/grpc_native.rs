//! Native gRPC through the edge (passthrough, trailers intact), gRPC-Web
//! translated to gRPC, and backends whose grpc-status is missing or
//! malformed (502).

use gateway::context::X_REQUEST_ID;
use std::convert::Infallible;
use std::net::SocketAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::StreamBody;
use hyper::body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo};
use mock_backends::proto::order_service_client::OrderServiceClient;
use mock_backends::proto::{GetOrderRequest, Order, WatchOrderRequest};
use mock_backends::seed;
use prost::Message as _;
use tests::gateway::TestGateway;
use tests::grpc::{bridge, grpc_calls, json_call, new_order_id, set_status, split_web_body};
use tests::mocks::within;

fn frame(flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![flags];
    out.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    out.extend_from_slice(payload);
    out
}

#[tokio::test]
async fn a_grpc_client_calls_through_the_gateway_with_status_and_streams_intact() {
    let gateway = bridge().await;
    let mut client = OrderServiceClient::connect(format!("http://{}", gateway.gateway.addr))
        .await
        .unwrap();
    let order = client
        .get_order(GetOrderRequest {
            order_id: seed::FIRST_ORDER_ID.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(order.id, seed::FIRST_ORDER_ID.to_string());
    let missing = client
        .get_order(GetOrderRequest {
            order_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        missing.code(),
        tonic::Code::NotFound,
        "grpc-status passes through: {missing:?}"
    );
    let id = new_order_id(&gateway).await;
    let mut updates = client
        .watch_order(WatchOrderRequest {
            order_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    set_status(&gateway, &id, "cancelled").await;
    let update = within("an update", updates.message())
        .await
        .unwrap()
        .expect("one update");
    assert_eq!(update.order_id, id);
    assert_eq!(
        within("the end", updates.message()).await.unwrap(),
        None,
        "OK trailers end the stream"
    );
    assert!(
        grpc_calls(&gateway, "GetOrder")
            .iter()
            .all(|call| call.headers.contains_key(X_REQUEST_ID))
    );
}

#[tokio::test]
async fn grpc_web_binary_and_text_are_translated() {
    let gateway = bridge().await;
    let request = GetOrderRequest {
        order_id: seed::FIRST_ORDER_ID.to_string(),
    }
    .encode_to_vec();
    for text in [false, true] {
        let (content_type, body) = if text {
            (
                "application/grpc-web-text",
                Bytes::from(STANDARD.encode(frame(0, &request))),
            )
        } else {
            (
                "application/grpc-web+proto",
                Bytes::from(frame(0, &request)),
            )
        };
        let url = gateway.url("/orders.OrderService/GetOrder");
        let response = gateway
            .client
            .post(url)
            .header("content-type", content_type)
            .header("x-grpc-web", "1")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let expected_type = if text {
            "application/grpc-web-text+proto"
        } else {
            "application/grpc-web+proto"
        };
        assert_eq!(response.headers()["content-type"], expected_type);
        let raw = response.bytes().await.unwrap();
        let raw = if text { decode_text(&raw) } else { raw };
        let (messages, trailers) = split_web_body(raw);
        let order = Order::decode(messages[0].clone()).unwrap();
        assert_eq!(order.id, seed::FIRST_ORDER_ID.to_string());
        assert!(trailers.contains("grpc-status: 0\r\n"), "{trailers:?}");
    }
}

/// Base64 decoding of chunks that were each padded on their own.
fn decode_text(raw: &[u8]) -> Bytes {
    raw.chunks(4)
        .flat_map(|quad| STANDARD.decode(quad).unwrap())
        .collect::<Vec<u8>>()
        .into()
}

#[tokio::test]
async fn grpc_web_errors_keep_their_status() {
    let gateway = bridge().await;
    let request = GetOrderRequest {
        order_id: uuid::Uuid::new_v4().to_string(),
    }
    .encode_to_vec();
    let url = gateway.url("/orders.OrderService/GetOrder");
    let response = gateway
        .client
        .post(url)
        .header("content-type", "application/grpc-web")
        .body(frame(0, &request))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let in_headers = response
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().unwrap().to_owned());
    let (_, trailers) = split_web_body(response.bytes().await.unwrap());
    assert!(
        in_headers.as_deref() == Some("5") || trailers.contains("grpc-status: 5"),
        "{in_headers:?} {trailers:?}"
    );
}

/// An h2c server that answers every call with one Order and the given
/// trailers (none at all if `grpc_status` is `None`).
async fn odd_backend(grpc_status: Option<&'static str>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = hyper::service::service_fn(move |_request| async move {
                let order = Order {
                    id: "x".into(),
                    ..Order::default()
                }
                .encode_to_vec();
                let mut frames = vec![Ok::<_, Infallible>(Frame::data(Bytes::from(frame(
                    0, &order,
                ))))];
                if let Some(status) = grpc_status {
                    let mut trailers = http::HeaderMap::new();
                    trailers.insert("grpc-status", status.parse().unwrap());
                    trailers.insert("x-trace", "t-1".parse().unwrap());
                    frames.push(Ok(Frame::trailers(trailers)));
                }
                let body = StreamBody::new(futures::stream::iter(frames));
                let response = http::Response::builder()
                    .header("content-type", "application/grpc")
                    .header("x-tenant-id", "from-backend");
                Ok::<_, Infallible>(response.body(body).unwrap())
            });
            let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service);
            tokio::spawn(connection);
        }
    });
    addr
}

fn odd_config(addr: SocketAddr) -> String {
    format!(
        "backends:\n  odd:\n    url: http://{addr}\n    protocol: h2c\nroutes:\n  - path: /odd/{{order_id}}\n    method: GET\n    grpc: {{ backend: odd, method: orders.OrderService/GetOrder }}\ngrpc:\n  protos: [proto/orders.proto]\n  include: [proto]\n  metadata: [x-tenant-id, x-trace]\n"
    )
}

#[tokio::test]
async fn a_missing_or_malformed_grpc_status_is_502_and_metadata_comes_back() {
    for (status, code) in [
        (None, "GRPC_STATUS_MISSING"),
        (Some("abc"), "GRPC_STATUS_MALFORMED"),
        (Some("0"), ""),
    ] {
        let gateway = TestGateway::start(&odd_config(odd_backend(status).await)).await;
        let (http_status, headers, body) =
            json_call(gateway.client.get(gateway.url("/odd/1"))).await;
        if code.is_empty() {
            assert_eq!(
                (http_status, body["id"].as_str()),
                (200, Some("x")),
                "control case: {body}"
            );
            assert_eq!(
                headers["x-tenant-id"], "from-backend",
                "response metadata passes back out"
            );
            assert_eq!(headers["x-trace"], "t-1", "trailer metadata too");
        } else {
            assert_eq!(http_status, 502, "{body}");
            assert_eq!(body["details"][0]["reason"], code, "{body}");
        }
    }
}

#[tokio::test]
async fn an_unreachable_backend_is_a_grpc_unavailable_for_native_clients() {
    let gateway = bridge().await;
    gateway.mocks.orders_grpc.control.set_down(true).await;
    let mut client = OrderServiceClient::connect(format!("http://{}", gateway.gateway.addr))
        .await
        .unwrap();
    let error = client
        .get_order(GetOrderRequest {
            order_id: seed::FIRST_ORDER_ID.to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::Unavailable, "{error:?}");
}
