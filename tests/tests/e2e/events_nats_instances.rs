//! Two gateway instances on one NATS JetStream (same `stream_prefix`):
//! a `queue` subscription is one durable consumer the instances share, so
//! each event reaches its backend once, whichever instance delivers it;
//! a `fanout` subscription gives every endpoint every event, once.

use std::collections::BTreeMap;
use std::time::Duration;

use mock_backends::{RecordedDelivery, SubscriberHandle, SubscriberKind};
use tests::gateway::TestGateway;
use tests::mocks::subscriber;
use tests::nats_server::NatsServer;

const EVENTS: usize = 40;

fn config(nats: &str, inventory: &SubscriberHandle, notify: [&SubscriberHandle; 2]) -> String {
    format!(
        r#"
backends:
  inventory: {{ url: {inventory} }}
  notification: {{ urls: [{n1}, {n2}] }}
events:
  store: {{ kind: nats, urls: ["{nats}"], stream_prefix: SHARED, outbox_dir: outbox }}
  topics:
    orders: {{ default_source: /orders-service }}
  subscriptions:
    - {{ name: reserve, topic: orders, backend: inventory, path: /events, mode: queue }}
    - {{ name: notify, topic: orders, backend: notification, path: /events, mode: fanout }}
routes:
  - path: /v1/events/orders
    publish: orders
"#,
        inventory = inventory.url(),
        n1 = notify[0].url(),
        n2 = notify[1].url(),
    )
}

fn counts(deliveries: &[RecordedDelivery]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for delivery in deliveries {
        *counts.entry(delivery.id.clone()).or_default() += 1;
    }
    counts
}

async fn all_delivered(subscriber: &SubscriberHandle, what: &str) -> Vec<RecordedDelivery> {
    tokio::time::timeout(
        Duration::from_secs(30),
        subscriber.wait_for(|d| counts(d).len() >= EVENTS),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "{what}: {} of {EVENTS} events",
            counts(&subscriber.deliveries()).len()
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_shares_one_consumer_across_instances_and_fanout_reaches_every_endpoint() {
    let Some(server) = NatsServer::start_or_skip("two instances").await else {
        return;
    };
    let inventory = subscriber(SubscriberKind::Inventory).await;
    let notify_a = subscriber(SubscriberKind::Notification).await;
    let notify_b = subscriber(SubscriberKind::Notification).await;
    let yaml = config(&server.url(), &inventory, [&notify_a, &notify_b]);
    let first = TestGateway::start(&yaml).await;
    let second = TestGateway::start(&yaml).await;
    let mut published = Vec::new();
    for n in 0..EVENTS {
        let gateway = if n % 2 == 0 { &first } else { &second };
        let response = gateway
            .client
            .post(gateway.url("/v1/events/orders"))
            .json(&serde_json::json!({"type": "OrderPlaced", "subject": format!("o-{n}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        let body: serde_json::Value = response.json().await.unwrap();
        published.push(body["id"].as_str().unwrap().to_owned());
    }
    published.sort();
    for (subscriber, what) in [
        (&inventory, "queue"),
        (&notify_a, "fanout endpoint a"),
        (&notify_b, "fanout endpoint b"),
    ] {
        let got = counts(&all_delivered(subscriber, what).await);
        let ids: Vec<_> = got.keys().cloned().collect();
        assert_eq!(ids, published, "{what}: every event");
        assert!(
            got.values().all(|count| *count == 1),
            "{what}: each event once, not once per instance: {got:?}"
        );
    }
    // Both instances run the shared consumers: each admin API lists them.
    for gateway in [&first, &second] {
        let listed: serde_json::Value = gateway
            .client
            .get(gateway.admin_url("/events/subscriptions"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            listed
                .as_array()
                .map(Vec::len)
                .or_else(|| listed["subscriptions"].as_array().map(Vec::len)),
            Some(2),
            "{listed}"
        );
    }
}
