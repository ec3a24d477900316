//! Batch publish through the real gateway (CloudEvents batched content
//! mode, `application/cloudevents-batch+json`): one request stores every
//! event, answered 202 with each id and position in order, and each is
//! delivered to a real mock subscriber; a bad element refuses the whole
//! batch with its code and index and stores nothing; an `Idempotency-Key`
//! makes a retried batch store nothing new; the same on NATS JetStream.

use std::time::Duration;

use mock_backends::{SubscriberHandle, SubscriberKind};
use serde_json::{Value, json};
use tests::gateway::TestGateway;
use tests::mocks::subscriber;
use tests::nats_server::NatsServer;

const BATCH: &str = "application/cloudevents-batch+json";

fn config(store: &str, inventory: &SubscriberHandle) -> String {
    format!(
        r#"
backends:
  inventory: {{ url: "{inventory}" }}
events:
  store: {store}
  topics:
    orders: {{ max_event_bytes: 1KiB, default_source: /orders }}
  subscriptions:
    - name: inventory
      topic: orders
      backend: inventory
      path: /events
      start: earliest
routes:
  - path: /v1/events/orders
    publish: orders
"#,
        inventory = inventory.url()
    )
}

async fn post_batch(gw: &TestGateway, body: &Value, key: Option<&str>) -> (u16, Value) {
    let mut request = gw
        .client
        .post(gw.url("/v1/events/orders"))
        .header("content-type", BATCH)
        .body(body.to_string());
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn stored(gw: &TestGateway) -> Vec<String> {
    let store = gw.gateway.snapshot().events.clone().unwrap();
    let events = store.store().read("orders", 0, 100).await.unwrap();
    events.into_iter().map(|e| e.event.id.clone()).collect()
}

fn three_orders() -> Value {
    json!([
        {"type": "OrderPlaced", "subject": "o-1"},
        {"specversion": "1.0", "id": "evt-2", "source": "/shop", "type": "OrderPlaced"},
        {"event_type": "OrderShipped", "event_id": "evt-3", "payload": {"order_id": "o-3"}}
    ])
}

async fn inventory() -> SubscriberHandle {
    subscriber(SubscriberKind::Inventory).await
}

/// Publishes three events in one batch and checks the answer, the log and
/// the deliveries.
async fn a_batch_is_stored_in_order_and_delivered(gw: &TestGateway, inventory: &SubscriberHandle) {
    let (status, accepted) = post_batch(gw, &three_orders(), None).await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["topic"], "orders");
    let events = accepted["events"].as_array().unwrap();
    let positions: Vec<_> = events.iter().map(|e| e["position"].as_u64()).collect();
    assert_eq!(positions, [Some(1), Some(2), Some(3)]);
    let ids: Vec<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(&ids[1..], ["evt-2", "evt-3"]);
    assert_eq!(stored(gw).await, ids);
    let delivered = tokio::time::timeout(
        Duration::from_secs(10),
        inventory.wait_for(|d| ids.iter().all(|id| d.iter().any(|d| &d.id == id))),
    )
    .await
    .unwrap_or_else(|_| panic!("not all delivered: {:#?}", inventory.deliveries()));
    let first = delivered.iter().find(|d| d.id == ids[0]).unwrap();
    assert_eq!(first.source, "/orders");
    assert_eq!(first.subject.as_deref(), Some("o-1"));
}

#[tokio::test]
async fn a_batch_is_acknowledged_in_order_and_each_event_delivered() {
    let inventory = inventory().await;
    let gw = TestGateway::start(&config("{ kind: embedded }", &inventory)).await;
    a_batch_is_stored_in_order_and_delivered(&gw, &inventory).await;
}

#[tokio::test]
async fn a_batch_on_jetstream_is_acknowledged_in_order_and_each_event_delivered() {
    let Some(server) = NatsServer::start_or_skip("batch publish on NATS").await else {
        return;
    };
    let inventory = inventory().await;
    let store = format!(
        r#"{{ kind: nats, urls: ["{}"], request_timeout: 2s, outbox_dir: outbox }}"#,
        server.url()
    );
    let gw = TestGateway::start(&config(&store, &inventory)).await;
    a_batch_is_stored_in_order_and_delivered(&gw, &inventory).await;
}

#[tokio::test]
async fn a_bad_batch_gets_its_code_and_stores_nothing() {
    let inventory = inventory().await;
    let gw = TestGateway::start(&config("{ kind: embedded }", &inventory)).await;
    let many: Vec<Value> = (0..1001).map(|_| json!({"type": "OrderPlaced"})).collect();
    let cases = [
        (
            "bad element",
            json!([{"type": "OrderPlaced"}, {"data": {}}]),
            "EVENT_MISSING_TYPE",
            "event #1",
        ),
        (
            "element too large",
            json!([{"type": "OrderPlaced", "data": "x".repeat(2048)}]),
            "EVENT_TOO_LARGE",
            "event #0",
        ),
        (
            "not an array",
            json!({"type": "OrderPlaced"}),
            "EVENT_BATCH_INVALID",
            "array",
        ),
        ("empty", json!([]), "EVENT_BATCH_INVALID", "no event"),
        (
            "too many",
            Value::Array(many),
            "EVENT_BATCH_INVALID",
            "at most 1000",
        ),
    ];
    for (what, body, code, named) in cases {
        let (status, error) = post_batch(&gw, &body, None).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (400, Some(code)),
            "{what}: {error}"
        );
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{what}: {message}");
        assert!(error["error"]["request_id"].is_string(), "{what}: {error}");
    }
    assert!(stored(&gw).await.is_empty(), "nothing was stored");
}

#[tokio::test]
async fn a_retried_batch_with_an_idempotency_key_stores_nothing_new() {
    let inventory = inventory().await;
    let gw = TestGateway::start(&config("{ kind: embedded }", &inventory)).await;
    let body = json!([{"type": "OrderPlaced"}, {"type": "OrderPlaced"}]);
    let (_, first) = post_batch(&gw, &body, Some("cart-9")).await;
    let (status, again) = post_batch(&gw, &body, Some("cart-9")).await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(again["events"], first["events"], "same ids and positions");
    assert_eq!(stored(&gw).await.len(), 2);
}
