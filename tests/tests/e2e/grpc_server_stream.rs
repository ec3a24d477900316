//! The gRPC bridge, server streaming (WatchOrder): NDJSON and SSE, each
//! update flushed as it happens, mid-stream errors as a final error
//! object, and a client that leaves cancelling the backend call.

use mock_backends::Outcome;
use tests::grpc::{StreamReader, bridge, grpc_calls, new_order_id, set_status, watch_order};
use tests::mocks::{cancelled_call, within};

#[tokio::test]
async fn ndjson_updates_arrive_one_by_one_as_they_happen() {
    let gateway = bridge().await;
    let id = new_order_id(&gateway).await;
    let response = watch_order(&gateway, &id, false).await;
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let mut lines = StreamReader::ndjson(response);
    // Each change is made only after the previous update was received: the
    // first update reaches the client before the last one is produced.
    for (old, new) in [
        ("PENDING", "CONFIRMED"),
        ("CONFIRMED", "SHIPPED"),
        ("SHIPPED", "DELIVERED"),
    ] {
        set_status(&gateway, &id, &new.to_ascii_lowercase()).await;
        let update = lines.next_json().await.expect("an update");
        assert_eq!(
            (
                update["orderId"].as_str(),
                update["oldStatus"].as_str(),
                update["newStatus"].as_str()
            ),
            (Some(id.as_str()), Some(old), Some(new))
        );
    }
    assert_eq!(
        lines.next_json().await,
        None,
        "the stream ends after DELIVERED"
    );
}

#[tokio::test]
async fn sse_when_the_client_asks_for_event_stream() {
    let gateway = bridge().await;
    let id = new_order_id(&gateway).await;
    let response = watch_order(&gateway, &id, true).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut events = StreamReader::sse(response);
    set_status(&gateway, &id, "cancelled").await;
    let event = within("an event", events.next()).await.expect("an event");
    let data = event.strip_prefix("data: ").expect("a data event");
    let update: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(update["newStatus"], "CANCELLED");
    assert_eq!(within("the end", events.next()).await, None);
}

#[tokio::test]
async fn a_mid_stream_error_becomes_a_final_error_object_or_event() {
    let gateway = bridge().await;
    for sse in [false, true] {
        let id = new_order_id(&gateway).await;
        let response = watch_order(&gateway, &id, sse).await;
        let delete = tests::mocks::url(&gateway.mocks.orders, &format!("/v1/orders/{id}"));
        assert!(
            gateway
                .client
                .delete(delete)
                .send()
                .await
                .unwrap()
                .status()
                .is_success()
        );
        if sse {
            let mut events = StreamReader::sse(response);
            let event = within("the error event", events.next())
                .await
                .expect("an error event");
            assert!(event.starts_with("event: error\ndata: "), "{event}");
            let status: serde_json::Value =
                serde_json::from_str(event.split_once("data: ").unwrap().1).unwrap();
            assert_eq!(status["code"], 5);
            assert_eq!(within("the end", events.next()).await, None);
        } else {
            let mut lines = StreamReader::ndjson(response);
            let last = lines.next_json().await.expect("a final line");
            assert_eq!(last["error"]["code"], 5, "{last}");
            assert!(
                last["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("deleted"),
                "{last}"
            );
            assert_eq!(lines.next_json().await, None);
        }
    }
}

#[tokio::test]
async fn an_unknown_order_is_404_before_the_stream_opens() {
    let gateway = bridge().await;
    let url = gateway.url(&format!("/grpc/v1/orders/{}/watch", uuid::Uuid::new_v4()));
    let response = gateway.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], 5);
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_the_backend_call() {
    let gateway = bridge().await;
    let id = new_order_id(&gateway).await;
    let response = watch_order(&gateway, &id, false).await;
    let control = &gateway.mocks.orders_grpc.control;
    let in_flight = |calls: &[mock_backends::RecordedRequest]| {
        calls
            .iter()
            .any(|c| c.path.ends_with("/WatchOrder") && c.outcome == Outcome::InFlight)
    };
    within(
        "the watch to be in flight",
        control.wait_for_requests(in_flight),
    )
    .await;
    drop(response);
    cancelled_call(control, "/WatchOrder").await;
    assert_eq!(grpc_calls(&gateway, "WatchOrder").len(), 1);
}
