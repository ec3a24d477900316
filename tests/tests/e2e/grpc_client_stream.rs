//! The gRPC bridge, client streaming (CreateOrders): NDJSON forwarded
//! message by message while the body is still arriving, or a JSON array.

use bytes::Bytes;
use mock_backends::{Outcome, RecordedRequest};
use tests::grpc::{bridge, create_order_json, grpc_calls, json_call};
use tests::mocks::within;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

fn ndjson_line(quantity: i32) -> Bytes {
    Bytes::from(format!("{}\n", create_order_json(quantity)))
}

fn create_orders_call(calls: &[RecordedRequest]) -> bool {
    calls.iter().any(|c| c.path.ends_with("/CreateOrders"))
}

#[tokio::test]
async fn ndjson_messages_are_forwarded_while_the_body_still_arrives() {
    let gateway = bridge().await;
    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(ReceiverStream::new(receiver));
    let request = gateway
        .client
        .post(gateway.url("/grpc/v1/orders:batch"))
        .header("content-type", "application/x-ndjson")
        .body(body);
    let call = tokio::spawn(json_call(request));
    sender.send(Ok(ndjson_line(1))).await.unwrap();
    // The backend call starts on the first message, with the body still open.
    let control = &gateway.mocks.orders_grpc.control;
    within(
        "the upstream call to start",
        control.wait_for_requests(create_orders_call),
    )
    .await;
    sender.send(Ok(ndjson_line(2))).await.unwrap();
    sender.send(Ok(Bytes::from_static(b"\n"))).await.unwrap();
    drop(sender);
    let (status, _, reply) = within("the reply", call).await.unwrap();
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["createdCount"], 2);
    assert_eq!(reply["orderIds"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_json_array_is_accepted_too() {
    let gateway = bridge().await;
    let body = serde_json::json!([
        create_order_json(1),
        create_order_json(3),
        create_order_json(5)
    ]);
    let (status, _, reply) = json_call(
        gateway
            .client
            .post(gateway.url("/grpc/v1/orders:batch"))
            .json(&body),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["createdCount"], 3);
}

#[tokio::test]
async fn a_bad_line_after_the_first_resets_the_upstream_stream() {
    let gateway = bridge().await;
    let before = gateway.mocks.store.order_count();
    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(ReceiverStream::new(receiver));
    let request = gateway
        .client
        .post(gateway.url("/grpc/v1/orders:batch"))
        .header("content-type", "application/x-ndjson")
        .body(body);
    let call = tokio::spawn(json_call(request));
    sender.send(Ok(ndjson_line(1))).await.unwrap();
    let control = &gateway.mocks.orders_grpc.control;
    within(
        "the upstream call to start",
        control.wait_for_requests(create_orders_call),
    )
    .await;
    sender.send(Ok(ndjson_line(2))).await.unwrap();
    sender
        .send(Ok(Bytes::from_static(b"{\"customerId\": oops}\n")))
        .await
        .unwrap();
    let (status, _, error) = within("the reply", call).await.unwrap();
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["code"], 3);
    assert!(
        error["message"].as_str().unwrap().contains("line 3"),
        "{error}"
    );
    let ended = |calls: &[RecordedRequest]| {
        calls
            .iter()
            .any(|c| c.path.ends_with("/CreateOrders") && c.outcome != Outcome::InFlight)
    };
    within("the upstream call to end", control.wait_for_requests(ended)).await;
    let call = grpc_calls(&gateway, "CreateOrders").pop().unwrap();
    assert_ne!(
        call.grpc_status,
        Some(tonic::Code::Ok),
        "the backend never saw a clean end: {:?}",
        call.outcome
    );
    assert_eq!(
        gateway.mocks.store.order_count(),
        before,
        "nothing was created"
    );
}
