//! The embedded event store through a crash: `kill -9` of a real
//! `gateway serve` process in the middle of a stream of publishes, async
//! submissions and deliveries, then a restart on the same data directory.
//! Every event acknowledged with 202 reaches the subscriber at least once,
//! every acknowledged async request reaches the backend and its result is
//! readable, and redeliveries carry the id the subscriber dedupes by.

// Test-only crate: an `unwrap` that fails is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mock_backends::{
    MockOptions, SubscriberFaults, SubscriberKind, SubscriberOptions, start_subscriber,
};
use serde_json::{Value, json};

#[path = "support/serve.rs"]
mod serve;
use serve::Serve;

/// Publishers and async submitters running at once.
const PUBLISHERS: usize = 4;
const SUBMITTERS: usize = 2;
/// Acknowledged events before the kill.
const ACKED_BEFORE_KILL: usize = 120;

fn config(orders: &str, inventory: &str, data_dir: &std::path::Path) -> String {
    format!(
        r#"listen: 127.0.0.1:0
admin: 127.0.0.1:0
backends:
  orders: {{ url: {orders} }}
  inventory: {{ url: {inventory} }}
events:
  store: {{ kind: embedded, data_dir: {data} }}
  topics:
    orders: {{ default_source: /crash-test }}
  subscriptions:
    - name: inventory
      topic: orders
      backend: inventory
      path: /events
      max_in_flight: 8
      backoff: {{ base: 20ms, max: 200ms }}
routes:
  - path: /v1/events/orders
    publish: orders
  - path: /v1/orders
    method: POST
    backend: orders
    async: {{ backoff: {{ base: 20ms, max: 100ms }}, max_attempts: 100 }}
"#,
        data = data_dir.display()
    )
}

fn order_body() -> Value {
    json!({
        "customer_id": mock_backends::seed::FIRST_CUSTOMER_ID,
        "items": [{"product_id": mock_backends::seed::FIRST_PRODUCT_ID, "quantity": 1, "unit_price": 5.0}],
    })
}

/// POSTs `body` to `url` until `stop`; the ids of the 202 answers go to
/// `acked` (an answer cut by the kill is not an acknowledgement).
async fn keep_posting(
    client: reqwest::Client,
    url: String,
    body: impl Fn(usize) -> Value,
    stop: Arc<AtomicBool>,
    acked: tokio::sync::mpsc::UnboundedSender<String>,
) {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let Ok(response) = client.post(&url).json(&body(n)).send().await else {
            continue;
        };
        if response.status() != 202 {
            continue;
        }
        let Ok(answer) = response.json::<Value>().await else {
            continue;
        };
        if acked
            .send(answer["id"].as_str().unwrap().to_owned())
            .is_err()
        {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_loses_no_acknowledged_event_or_async_request() {
    let mocks = mock_backends::start_all(MockOptions::ephemeral())
        .await
        .unwrap();
    let inventory = start_subscriber(
        SubscriberKind::Inventory,
        "127.0.0.1:0".parse().unwrap(),
        SubscriberOptions {
            publish_url: None,
            // Slow enough that deliveries are in flight at the kill.
            faults: SubscriberFaults {
                delay_ms: 2,
                ..Default::default()
            },
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    let orders = format!("http://{}", mocks.orders.addr);
    std::fs::write(
        &path,
        config(&orders, &inventory.url(), &dir.path().join("events")),
    )
    .unwrap();

    let first = Serve::spawn(&path);
    let client = reqwest::Client::new();
    let stop = Arc::new(AtomicBool::new(false));
    let (events_tx, mut events_rx) = tokio::sync::mpsc::unbounded_channel();
    let (async_tx, mut async_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut workers = Vec::new();
    for worker in 0..PUBLISHERS {
        workers.push(tokio::spawn(keep_posting(
            client.clone(),
            format!("http://{}/v1/events/orders", first.listen),
            move |n| json!({"type": "OrderPlaced", "subject": format!("order-{worker}-{n}"), "data": {"n": n}}),
            Arc::clone(&stop),
            events_tx.clone(),
        )));
    }
    for _ in 0..SUBMITTERS {
        workers.push(tokio::spawn(keep_posting(
            client.clone(),
            format!("http://{}/v1/orders", first.listen),
            |_| order_body(),
            Arc::clone(&stop),
            async_tx.clone(),
        )));
    }
    drop((events_tx, async_tx));
    let mut acked_events = BTreeSet::new();
    while acked_events.len() < ACKED_BEFORE_KILL {
        let id = tokio::time::timeout(Duration::from_secs(60), events_rx.recv())
            .await
            .expect("publishes are acknowledged")
            .unwrap();
        acked_events.insert(id);
    }
    // Mid-stream: publishers and submitters still sending, deliveries
    // and async attempts in flight.
    first.kill_9();
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
    while let Ok(id) = events_rx.try_recv() {
        acked_events.insert(id);
    }
    let mut acked_async = BTreeSet::new();
    while let Ok(id) = async_rx.try_recv() {
        acked_async.insert(id);
    }
    assert!(
        !acked_async.is_empty(),
        "some async requests were acknowledged"
    );
    let delivered_before = inventory.deliveries().len();

    let second = Serve::spawn(&path);
    let everything = tokio::time::timeout(
        Duration::from_secs(60),
        inventory.wait_for(|deliveries| {
            let seen: BTreeSet<&str> = deliveries.iter().map(|d| d.id.as_str()).collect();
            acked_events.iter().all(|id| seen.contains(id.as_str()))
        }),
    )
    .await;
    let deliveries = everything.unwrap_or_else(|_| {
        let seen: BTreeSet<String> = inventory.deliveries().into_iter().map(|d| d.id).collect();
        let missing: Vec<_> = acked_events.difference(&seen).collect();
        panic!("acknowledged events never delivered after the restart: {missing:?}")
    });
    // At least once, and the subscriber can dedupe: each id is handled
    // (not flagged duplicate) exactly once, whatever was redelivered.
    let mut handled: BTreeMap<&str, usize> = BTreeMap::new();
    for delivery in deliveries.iter().filter(|d| !d.duplicate) {
        *handled.entry(delivery.id.as_str()).or_default() += 1;
    }
    assert!(
        handled.values().all(|count| *count == 1),
        "an id handled twice"
    );
    println!(
        "acked {} events and {} async requests before the kill; {} deliveries before it, {} in all, {} redeliveries",
        acked_events.len(),
        acked_async.len(),
        delivered_before,
        deliveries.len(),
        deliveries.iter().filter(|d| d.duplicate).count()
    );

    // Every acknowledged async request was stored: its result is the
    // backend's 201 once the restarted worker delivered it.
    for id in &acked_async {
        let url = format!("http://{}/v1/requests/{id}", second.listen);
        let mut status = 0;
        for _ in 0..600 {
            status = client.get(&url).send().await.unwrap().status().as_u16();
            if status == 201 {
                break;
            }
            assert!(
                status == 202,
                "async request {id}: {status} (lost or failed)"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(status, 201, "async request {id} never delivered");
    }
}
