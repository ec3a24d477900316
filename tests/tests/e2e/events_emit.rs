//! `emit:` through the real gateway and the default routes.yaml: a created
//! order is published as `OrderPlaced` to the three subscribers (and
//! payment-processor publishes `PaymentCompleted` back through the
//! gateway), shipping emits `OrderShipped`, other responses emit nothing,
//! the client's trace context reaches the subscribers, and with the NATS
//! store down an emission waits in the outbox and is relayed with its id.

use std::time::Duration;

use mock_backends::{RecordedDelivery, SubscriberHandle};
use serde_json::{Value, json};
use tests::gateway::TestGateway;
use tests::mocks::new_order_body;
use tests::nats_server::NatsServer;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

async fn delivered(
    subscriber: &SubscriberHandle,
    what: &str,
    condition: impl FnMut(&[RecordedDelivery]) -> bool,
) -> Vec<RecordedDelivery> {
    tokio::time::timeout(Duration::from_secs(20), subscriber.wait_for(condition))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "timed out waiting for {what}: {:?}",
                subscriber.deliveries()
            )
        })
}

fn of_type<'a>(deliveries: &'a [RecordedDelivery], event_type: &str) -> Vec<&'a RecordedDelivery> {
    deliveries
        .iter()
        .filter(|d| d.event_type == event_type)
        .collect()
}

async fn create_order(gw: &TestGateway, traceparent: Option<&str>) -> Value {
    let mut request = gw
        .client
        .post(gw.url("/v1/orders"))
        .json(&new_order_body(2));
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_created_order_reaches_every_subscriber_as_order_placed() {
    let gw = TestGateway::with_default_routes().await;
    let traceparent = format!("00-{TRACE_ID}-00f067aa0ba902b7-01");
    let order = create_order(&gw, Some(&traceparent)).await;
    let order_id = order["id"].as_str().unwrap().to_owned();
    let subscribers = gw.subscribers();
    let mut ids = Vec::new();
    for subscriber in [
        &subscribers.inventory,
        &subscribers.notification,
        &subscribers.payment_processor,
    ] {
        let got = delivered(subscriber, "OrderPlaced", |d| {
            !of_type(d, "OrderPlaced").is_empty()
        })
        .await;
        let placed = of_type(&got, "OrderPlaced");
        assert_eq!(placed.len(), 1, "{placed:?}");
        let event = placed[0];
        assert_eq!(event.subject.as_deref(), Some(order_id.as_str()));
        assert_eq!(event.source, "/orders-service");
        assert_eq!(
            event.body,
            json!({"order_id": order_id, "customer_id": order["customer_id"], "total": order["total"]})
        );
        let carried = event.traceparent.as_deref().unwrap_or_default();
        assert!(
            carried.contains(TRACE_ID),
            "the client's trace reaches the subscriber: {carried:?}"
        );
        ids.push(event.id.clone());
    }
    assert!(
        ids.windows(2).all(|pair| pair[0] == pair[1]),
        "one event, one id, fanned out: {ids:?}"
    );
    // payment-processor publishes PaymentCompleted back through the
    // gateway's publish route, which stores it (202).
    let published = tokio::time::timeout(
        Duration::from_secs(20),
        subscribers
            .payment_processor
            .wait_for_published(|p| !p.is_empty()),
    )
    .await
    .expect("PaymentCompleted published");
    assert_eq!(published[0].1, 202, "{published:?}");
}

#[tokio::test]
async fn shipping_emits_order_shipped_and_other_answers_emit_nothing() {
    let gw = TestGateway::with_default_routes().await;
    let order = create_order(&gw, None).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let notification = &gw.subscribers().notification;
    delivered(notification, "OrderPlaced", |d| {
        !of_type(d, "OrderPlaced").is_empty()
    })
    .await;
    // Not emitting: a read (200 on a route whose emit wants 201), a
    // refused create (400 from the backend), a status other than shipped.
    let read = gw.client.get(gw.url("/v1/orders")).send().await.unwrap();
    assert_eq!(read.status(), 200);
    let refused = gw
        .client
        .post(gw.url("/v1/orders"))
        .json(&json!({"items": []}))
        .send()
        .await
        .unwrap();
    assert!(refused.status().is_client_error(), "{}", refused.status());
    let status_url = gw.url(&format!("/v1/orders/{id}/status"));
    for status in ["confirmed", "shipped"] {
        let response = gw
            .client
            .patch(&status_url)
            .json(&json!({"status": status}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "to {status}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], status, "the client's body is unchanged");
    }
    let got = delivered(notification, "OrderShipped", |d| {
        !of_type(d, "OrderShipped").is_empty()
    })
    .await;
    let shipped = of_type(&got, "OrderShipped");
    assert_eq!(shipped.len(), 1);
    assert_eq!(shipped[0].subject.as_deref(), Some(id.as_str()));
    assert_eq!(
        shipped[0].body,
        json!({"order_id": id, "status": "shipped"})
    );
    // Everything the gateway stored on `orders` is one OrderPlaced and one
    // OrderShipped: the confirm, the read and the refusal emitted nothing.
    let bus = gw.gateway.snapshot().events.clone().unwrap();
    let stored: Vec<String> = bus
        .store()
        .read("orders", 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|stored| stored.event.event_type.clone())
        .collect();
    assert_eq!(stored, ["OrderPlaced", "OrderShipped"]);
}

#[tokio::test]
async fn with_the_nats_store_down_an_emission_waits_in_the_outbox_then_is_relayed() {
    let Some(mut server) = NatsServer::start_or_skip("emit outbox").await else {
        return;
    };
    let yaml = format!(
        r#"
backends:
  orders: {{ url: $ORDERS }}
events:
  store: {{ kind: nats, urls: ["{url}"], request_timeout: 500ms, outbox_dir: outbox }}
  topics:
    orders: {{ default_source: /orders-service }}
routes:
  - path: /v1/orders
    method: POST
    backend: orders
    emit:
      - {{ topic: orders, type: OrderPlaced, statuses: [201], subject: "{{response.id}}" }}
"#,
        url = server.url()
    );
    let gw = TestGateway::start(&yaml).await;
    server.stop();
    let order = create_order(&gw, None).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let bus = gw.gateway.snapshot().events.clone().unwrap();
    assert_eq!(
        bus.outbox().len(),
        1,
        "the client got its 201; the event waits"
    );
    server.restart().await;
    let store = bus.store().clone();
    tests::gateway::eventually("the relayed event", || async {
        bus.outbox().is_empty()
            && store
                .read("orders", 0, 10)
                .await
                .is_ok_and(|events| events.len() == 1)
    })
    .await;
    let events = store.read("orders", 0, 10).await.unwrap();
    assert_eq!(events[0].event.subject.as_deref(), Some(id.as_str()));
    assert_eq!(events[0].event.event_type, "OrderPlaced");
}

#[tokio::test]
async fn an_async_route_emits_once_the_backend_has_answered() {
    let yaml = r#"
backends:
  orders: { url: $ORDERS }
events:
  store: { kind: embedded }
  topics:
    orders: { default_source: /orders-service }
routes:
  - path: /v1/orders
    method: POST
    backend: orders
    async: { backoff: { base: 50ms, max: 200ms }, max_attempts: 100 }
    emit:
      - topic: orders
        type: OrderPlaced
        statuses: [201]
        subject: "{response.id}"
        data: { order_id: "{response.id}", items: "{request.items}" }
"#;
    let gw = TestGateway::start(yaml).await;
    gw.mocks.orders.control.set_down(true).await;
    let response = gw
        .client
        .post(gw.url("/v1/orders"))
        .json(&new_order_body(3))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    let request_id = accepted["id"].as_str().unwrap().to_owned();
    let bus = gw.gateway.snapshot().events.clone().unwrap();
    assert!(
        bus.store().read("orders", 0, 10).await.unwrap().is_empty(),
        "the 202 emits nothing"
    );
    gw.mocks.orders.control.set_down(false).await;
    let store = bus.store().clone();
    tests::gateway::eventually("the event after the backend's 201", || async {
        !store.read("orders", 0, 10).await.unwrap().is_empty()
    })
    .await;
    let events = store.read("orders", 0, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    let event = &events[0].event;
    assert_eq!(
        event.id,
        format!("{request_id}-0"),
        "derived from the request's id"
    );
    let data = event.data.as_ref().unwrap();
    assert_eq!(data["order_id"].as_str(), event.subject.as_deref());
    assert_eq!(data["items"], new_order_body(3)["items"]);
}
