//! The orders gRPC service through a tonic client: all four call kinds,
//! error codes, streams of real changes, and visibility across protocols.

use futures::StreamExt;
use mock_backends::proto::{
    CreateOrderRequest, GetOrderRequest, OrderCommand, OrderItem, OrderStatus, WatchOrderRequest,
};
use mock_backends::{Outcome, seed};
use serde_json::json;
use tests::mocks::{create_order, grpc_client, http, send_json, start_mocks, url, within};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

fn create_request(quantity: i32) -> CreateOrderRequest {
    CreateOrderRequest {
        customer_id: seed::FIRST_CUSTOMER_ID.to_string(),
        items: vec![OrderItem {
            product_id: seed::SECOND_PRODUCT_ID.to_string(),
            quantity,
            unit_price: 49.99,
        }],
    }
}

fn get(order_id: impl ToString) -> GetOrderRequest {
    GetOrderRequest {
        order_id: order_id.to_string(),
    }
}

#[tokio::test]
async fn unary_get_and_create() {
    let mocks = start_mocks().await;
    let mut client = grpc_client(&mocks.orders_grpc).await;
    let first = client
        .get_order(get(seed::FIRST_ORDER_ID))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((first.total, first.status()), (59.98, OrderStatus::Shipped));
    assert_eq!(first.customer_id, seed::FIRST_CUSTOMER_ID.to_string());
    assert!(first.created_at.is_some());
    let created = client
        .create_order(create_request(2))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (created.total, created.status()),
        (99.98, OrderStatus::Pending)
    );
    let fetched = client
        .get_order(get(&created.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched, created);
}

#[tokio::test]
async fn unknown_ids_are_not_found_and_bad_input_is_invalid_argument() {
    let mocks = start_mocks().await;
    let mut client = grpc_client(&mocks.orders_grpc).await;
    let missing = client
        .get_order(get(uuid::Uuid::new_v4()))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let malformed = client.get_order(get("order-123")).await.unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert!(malformed.message().contains("order-123"));
    let bad = client.create_order(create_request(0)).await.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(
        bad.message().contains("items[0].quantity"),
        "{}",
        bad.message()
    );
    let watch_missing = client
        .watch_order(WatchOrderRequest {
            order_id: uuid::Uuid::new_v4().to_string(),
        })
        .await;
    assert_eq!(watch_missing.unwrap_err().code(), Code::NotFound);
}

#[tokio::test]
async fn orders_are_visible_across_protocols() {
    let mocks = start_mocks().await;
    let mut client = grpc_client(&mocks.orders_grpc).await;
    let over_rest = create_order(&mocks, 3).await;
    let seen_by_grpc = client
        .get_order(get(over_rest["id"].as_str().unwrap()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen_by_grpc.total, over_rest["total"].as_f64().unwrap());
    let over_grpc = client
        .create_order(create_request(1))
        .await
        .unwrap()
        .into_inner();
    let (status, seen_by_rest) =
        send_json(http().get(url(&mocks.orders, &format!("/v1/orders/{}", over_grpc.id)))).await;
    assert_eq!(status, 200);
    assert_eq!(seen_by_rest["total"], 49.99);
    assert_eq!(seen_by_rest["status"], "pending");
}

#[tokio::test]
async fn watch_streams_real_changes_until_delivered() {
    let mocks = start_mocks().await;
    let mut client = grpc_client(&mocks.orders_grpc).await;
    let order = create_order(&mocks, 1).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let request = WatchOrderRequest {
        order_id: id.clone(),
    };
    let mut updates = client.watch_order(request).await.unwrap().into_inner();
    let status_url = url(&mocks.orders, &format!("/v1/orders/{id}/status"));
    let mut seen = Vec::new();
    for next in ["confirmed", "shipped", "delivered"] {
        let patch = http().patch(&status_url).json(&json!({"status": next}));
        assert_eq!(send_json(patch).await.0, 200);
        let update = within("a status update", updates.message()).await.unwrap();
        let update = update.expect("an update");
        assert_eq!(update.order_id, id);
        assert!(update.timestamp.is_some());
        seen.push((update.old_status(), update.new_status()));
    }
    use OrderStatus::*;
    let expected = [
        (Pending, Confirmed),
        (Confirmed, Shipped),
        (Shipped, Delivered),
    ];
    assert_eq!(seen, expected);
    let end = within("the end of the stream", updates.message()).await;
    assert_eq!(end.unwrap(), None);
}

#[tokio::test]
async fn watch_sees_changes_from_order_updates_and_ends_on_cancel() {
    let mocks = start_mocks().await;
    let mut client = grpc_client(&mocks.orders_grpc).await;
    let id = seed::PENDING_ORDER_ID.to_string();
    let mut updates = client
        .watch_order(WatchOrderRequest {
            order_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let commands = tokio_stream::iter([OrderCommand {
        order_id: id.clone(),
        action: "cancel".into(),
    }]);
    let mut events = client.order_updates(commands).await.unwrap().into_inner();
    assert_eq!(
        within("the cancel event", events.message())
            .await
            .unwrap()
            .unwrap()
            .event_type,
        "cancel_applied"
    );
    let update = within("the update", updates.message())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(update.new_status(), OrderStatus::Cancelled);
    assert_eq!(
        within("the end of the stream", updates.message())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn watching_a_finished_order_ends_at_once() {
    let mocks = start_mocks().await;
    let mut client = grpc_client(&mocks.orders_grpc).await;
    let request = WatchOrderRequest {
        order_id: seed::DELIVERED_ORDER_ID.to_string(),
    };
    let mut updates = client.watch_order(request).await.unwrap().into_inner();
    assert_eq!(
        within("the end of the stream", updates.message())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_dropped_watch_is_recorded_as_cancelled() {
    let mocks = start_mocks().await;
    let mut client = grpc_client(&mocks.orders_grpc).await;
    let request = WatchOrderRequest {
        order_id: seed::PENDING_ORDER_ID.to_string(),
    };
    let mut metadata_request = tonic::Request::new(request);
    metadata_request
        .metadata_mut()
        .insert("x-test-id", "watch-1".parse().unwrap());
    let updates = client
        .watch_order(metadata_request)
        .await
        .unwrap()
        .into_inner();
    drop(updates);
    drop(client);
    let control = &mocks.orders_grpc.control;
    let records = within(
        "the cancelled record",
        control.wait_for_requests(|r| r.iter().any(|r| r.outcome == Outcome::Cancelled)),
    )
    .await;
    let watch = records
        .iter()
        .find(|r| r.path == "/orders.OrderService/WatchOrder")
        .expect("WatchOrder recorded");
    assert_eq!(watch.outcome, Outcome::Cancelled);
    assert_eq!(watch.headers["x-test-id"], "watch-1");
    assert!(watch.finished_at.is_some_and(|end| end >= watch.arrived_at));
}

#[tokio::test]
async fn create_orders_is_all_or_nothing() {
    let mocks = start_mocks().await;
    let mut client = grpc_client(&mocks.orders_grpc).await;
    let before = mocks.store.order_count();
    let good = vec![create_request(1), create_request(2), create_request(3)];
    let response = client
        .create_orders(tokio_stream::iter(good))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((response.created_count, response.order_ids.len()), (3, 3));
    for id in &response.order_ids {
        client
            .get_order(get(id))
            .await
            .expect("created order exists");
    }
    let mut invalid = create_request(1);
    invalid.items[0].product_id = "not-a-uuid".into();
    let mixed = vec![create_request(1), invalid, create_request(1)];
    let error = client
        .create_orders(tokio_stream::iter(mixed))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(error.message().contains("order #1"), "{}", error.message());
    assert_eq!(
        mocks.store.order_count(),
        before + 3,
        "the invalid batch created nothing"
    );
}

/// Commands sent to the pending order, with the event each must produce.
const COMMAND_SCRIPT: [(&str, &str, OrderStatus); 5] = [
    ("ship", "ship_rejected", OrderStatus::Pending),
    ("confirm", "confirm_applied", OrderStatus::Confirmed),
    ("fly", "fly_rejected", OrderStatus::Confirmed),
    ("ship", "ship_applied", OrderStatus::Shipped),
    ("deliver", "deliver_applied", OrderStatus::Delivered),
];

#[tokio::test]
async fn order_updates_answers_every_command_and_survives_rejections() {
    let mocks = start_mocks().await;
    let mut client = grpc_client(&mocks.orders_grpc).await;
    let (commands, receiver) = tokio::sync::mpsc::channel(4);
    let inbound = ReceiverStream::new(receiver);
    let mut events = client.order_updates(inbound).await.unwrap().into_inner();
    let order_id = seed::PENDING_ORDER_ID.to_string();
    for (action, event_type, status) in COMMAND_SCRIPT {
        let command = OrderCommand {
            order_id: order_id.clone(),
            action: action.into(),
        };
        commands.send(command).await.unwrap();
        let event = within("an event", events.next())
            .await
            .expect("an event")
            .expect("not an error");
        let context = format!("{action}: {}", event.message);
        assert_eq!(
            (event.event_type.as_str(), event.status()),
            (event_type, status),
            "{context}"
        );
        assert!(!event.message.is_empty());
    }
    drop(commands);
    assert!(
        within("the end of the stream", events.next())
            .await
            .is_none()
    );
    let order = mocks.store.get_order(seed::PENDING_ORDER_ID).unwrap();
    assert_eq!(order.status, mock_backends::domain::OrderStatus::Delivered);
}
