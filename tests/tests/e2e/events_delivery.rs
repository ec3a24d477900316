//! Event delivery to subscribers (issue 14, part "deliver"): the real
//! delivery engine over the real embedded store, POSTing through the
//! backends' upstream pools to the real mock subscribers on 127.0.0.1.
//! Fanout and queue modes, the type filter, retries with backoff into the
//! dead-letter queue, 4xx straight to it, replay with the original id,
//! purge, ordering by subject, trace context and the metrics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use gateway::config::model::events::{
    DeliveryMode, EmbeddedStore, StartFrom, SubscriptionSpec, TopicSpec,
};
use gateway::config::model::{Backoff, GatewayConfig};
use gateway::events::cloud_event::CloudEvent;
use gateway::events::delivery::DeliveryEngine;
use gateway::events::embedded::EmbeddedEventStore;
use gateway::events::store::{DeadLetterSelection, SharedStore};
use gateway::observe::metrics::Metrics;
use gateway::upstream::Upstreams;
use mock_backends::{RecordedDelivery, SubscriberFaults, SubscriberHandle, SubscriberKind};
use tests::event_store_suite::encoded;
use tests::mocks::subscriber;

const WAIT: Duration = Duration::from_secs(10);
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// A store, an engine and the pools of `backends` (name → endpoint URLs).
struct Bus {
    store: SharedStore,
    engine: Arc<DeliveryEngine>,
    metrics: Arc<Metrics>,
    config: GatewayConfig,
    upstreams: Upstreams,
    topic: Arc<TopicSpec>,
    _dir: tempfile::TempDir,
}

impl Bus {
    async fn start(backends: &[(&str, Vec<String>)]) -> Bus {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedEventStore::open(&EmbeddedStore {
            data_dir: dir.path().to_owned(),
            commit_window: Duration::ZERO,
        })
        .await
        .unwrap();
        let store: SharedStore = Arc::new(store);
        let topic = Arc::new(TopicSpec {
            name: "orders".into(),
            max_event_bytes: 64 * 1024,
            dedupe_window: Duration::from_secs(60),
            max_age: None,
            max_events: None,
            default_source: "/gateway".into(),
            max_streams: TopicSpec::DEFAULT_MAX_STREAMS,
        });
        store.ensure_topic(&topic).await.unwrap();
        let mut yaml = String::from("routes: []\nbackends:\n");
        for (name, urls) in backends {
            yaml.push_str(&format!("  {name}:\n    urls:\n"));
            for url in urls {
                yaml.push_str(&format!("      - {url}\n"));
            }
        }
        let config = gateway::config::load_str(&yaml, "events.yaml").unwrap();
        let upstreams = Upstreams::build(&config, None);
        let metrics = Arc::new(Metrics::new());
        Bus {
            engine: DeliveryEngine::new(Arc::clone(&store), Some(Arc::clone(&metrics))),
            store,
            metrics,
            config,
            upstreams,
            topic,
            _dir: dir,
        }
    }

    fn subscription(&self, name: &str, backend: &str, mode: DeliveryMode) -> SubscriptionSpec {
        SubscriptionSpec {
            name: name.into(),
            topic: Arc::clone(&self.topic),
            backend: Arc::clone(&self.config.backends[backend]),
            path: "/events".into(),
            mode,
            types: Vec::new(),
            backoff: Backoff {
                base: Duration::from_millis(40),
                max: Duration::from_millis(200),
            },
            max_attempts: 3,
            timeout: Duration::from_secs(2),
            max_in_flight: 8,
            ordered_by_subject: false,
            start: StartFrom::Earliest,
        }
    }

    fn apply(&self, subscriptions: Vec<SubscriptionSpec>) {
        let subscriptions: Vec<_> = subscriptions.into_iter().map(Arc::new).collect();
        self.engine.apply(&subscriptions, &self.upstreams);
    }

    async fn publish(&self, event_type: &str, subject: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let event = CloudEvent {
            specversion: "1.0".into(),
            id: id.clone(),
            source: "/orders".into(),
            event_type: event_type.into(),
            subject: Some(subject.into()),
            time: None,
            datacontenttype: None,
            data: Some(serde_json::json!({"order_id": subject, "total": 10})),
            data_base64: None,
            extensions: BTreeMap::from([(
                "traceparent".to_owned(),
                serde_json::json!(TRACEPARENT),
            )]),
        };
        self.store
            .publish("orders", &encoded(&event), None)
            .await
            .unwrap();
        id
    }

    fn metrics_text(&self) -> String {
        let mut text = String::new();
        self.metrics.encode(&mut text).unwrap();
        text
    }
}

async fn wait_for(
    handle: &SubscriberHandle,
    what: &str,
    condition: impl FnMut(&[RecordedDelivery]) -> bool,
) -> Vec<RecordedDelivery> {
    tokio::time::timeout(WAIT, handle.wait_for(condition))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}: {:#?}", handle.deliveries()))
}

fn ids(deliveries: &[RecordedDelivery]) -> Vec<String> {
    deliveries.iter().map(|d| d.id.clone()).collect()
}

fn sample(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_reaches_every_endpoint_and_queue_shares_the_work() {
    let (inv_a, inv_b) = (
        subscriber(SubscriberKind::Inventory).await,
        subscriber(SubscriberKind::Inventory).await,
    );
    let (note_a, note_b) = (
        subscriber(SubscriberKind::Notification).await,
        subscriber(SubscriberKind::Notification).await,
    );
    let bus = Bus::start(&[
        ("inventory", vec![inv_a.url(), inv_b.url()]),
        ("notification", vec![note_a.url(), note_b.url()]),
    ])
    .await;
    let mut queue = bus.subscription("notify", "notification", DeliveryMode::Queue);
    queue.types = vec!["OrderPlaced".into(), "OrderShipped".into()];
    bus.apply(vec![
        bus.subscription("reserve", "inventory", DeliveryMode::Fanout),
        queue,
    ]);
    let mut published = Vec::new();
    for n in 0..6 {
        published.push(bus.publish("OrderPlaced", &format!("order-{n}")).await);
    }
    let filtered = bus.publish("CouponIssued", "order-9").await;
    for endpoint in [&inv_a, &inv_b] {
        let got = wait_for(endpoint, "fanout to both endpoints", |d| d.len() >= 7).await;
        let mut got = ids(&got);
        got.sort();
        let mut want: Vec<_> = published
            .iter()
            .cloned()
            .chain([filtered.clone()])
            .collect();
        want.sort();
        assert_eq!(got, want, "each fanout endpoint gets every event once");
    }
    tokio::time::timeout(WAIT, async {
        loop {
            if note_a.deliveries().len() + note_b.deliveries().len() >= 6 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    let mut shared = ids(&note_a.deliveries());
    shared.extend(ids(&note_b.deliveries()));
    shared.sort();
    let mut want = published.clone();
    want.sort();
    assert_eq!(
        shared, want,
        "queue: each event once across the endpoints, the filtered type never"
    );
    // Both subscriptions are settled: nothing lags, nothing is dead.
    let backlogs = bus.engine.backlogs().await.unwrap();
    assert_eq!(backlogs.len(), 2);
    assert_eq!(
        backlogs[0].consumers.len(),
        2,
        "fanout: a consumer per endpoint"
    );
    assert!(
        backlogs[0].consumers[0]
            .name
            .starts_with("reserve@127.0.0.1:")
    );
    // A mock records a delivery when it arrives; the ack is counted once
    // its answer is back, so await the counts, then check them exactly.
    let reserve_acks = "gateway_event_deliveries_total{subscription=\"reserve\",result=\"ack\"}";
    let notify_acks = "gateway_event_deliveries_total{subscription=\"notify\",result=\"ack\"}";
    tests::gateway::eventually("every delivery's ack counted", || {
        let text = bus.metrics_text();
        async move { sample(&text, reserve_acks) >= 14.0 && sample(&text, notify_acks) >= 6.0 }
    })
    .await;
    let text = bus.metrics_text();
    assert_eq!(
        sample(
            &text,
            "gateway_event_deliveries_total{subscription=\"reserve\",result=\"ack\"}"
        ),
        14.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "gateway_event_deliveries_total{subscription=\"notify\",result=\"ack\"}"
        ),
        6.0
    );
    // The binding and the trace context reached the subscriber.
    let one = &inv_a.deliveries()[0];
    assert_eq!(one.headers["ce-specversion"], "1.0");
    assert_eq!(one.headers["ce-source"], "/orders");
    assert_eq!(one.headers["content-type"], "application/json");
    assert_eq!(one.traceparent.as_deref(), Some(TRACEPARENT));
    assert_eq!(one.attempt, 1);
    assert!(!inv_a.reservations().is_empty(), "inventory reserved stock");
    bus.engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_subscriber_retries_with_backoff_then_dead_letters_and_replays_with_the_same_id() {
    let inventory = subscriber(SubscriberKind::Inventory).await;
    inventory.set_faults(SubscriberFaults {
        fail_all: true,
        ..Default::default()
    });
    let bus = Bus::start(&[("inventory", vec![inventory.url()])]).await;
    bus.apply(vec![bus.subscription(
        "reserve",
        "inventory",
        DeliveryMode::Queue,
    )]);
    let id = bus.publish("OrderPlaced", "order-1").await;
    let tries = wait_for(&inventory, "three attempts", |d| d.len() >= 3).await;
    assert_eq!(
        tries.iter().map(|d| d.attempt).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(tries.iter().all(|d| d.id == id && d.status == 503));
    let schedule: Vec<f64> = tries
        .windows(2)
        .map(|w| w[1].received_ms - w[0].received_ms)
        .collect();
    println!("retry gaps (ms), backoff base 40 max 200 with full jitter: {schedule:?}");
    let dead = tokio::time::timeout(WAIT, async {
        loop {
            let dead = bus.engine.dead_letters("reserve", 10).await.unwrap();
            if !dead.is_empty() {
                return dead;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].event.id, id);
    assert_eq!(dead[0].attempts, 3);
    assert!(dead[0].last_error.contains("503"), "{}", dead[0].last_error);
    let text = bus.metrics_text();
    let count = |result: &str| {
        sample(
            &text,
            &format!(
                "gateway_event_deliveries_total{{subscription=\"reserve\",result=\"{result}\"}}"
            ),
        )
    };
    assert_eq!(
        (count("retry"), count("dead_letter"), count("ack")),
        (2.0, 1.0, 0.0)
    );
    bus.engine.refresh_gauges().await;
    assert_eq!(
        sample(
            &bus.metrics_text(),
            "gateway_event_dead_letters{subscription=\"reserve\"}"
        ),
        1.0
    );
    // The fault is removed; the replayed event comes with its original id.
    inventory.set_faults(SubscriberFaults::default());
    let replayed = bus
        .engine
        .replay("reserve", None, DeadLetterSelection::All)
        .await
        .unwrap();
    assert_eq!(replayed, 1);
    let after = wait_for(&inventory, "the replay", |d| {
        d.iter().any(|d| d.status == 200)
    })
    .await;
    let delivered = after.iter().find(|d| d.status == 200).unwrap();
    assert_eq!(delivered.id, id);
    assert_eq!(
        delivered.attempt, 1,
        "a replayed dead letter starts again at attempt 1"
    );
    assert!(
        bus.engine
            .dead_letters("reserve", 10)
            .await
            .unwrap()
            .is_empty()
    );
    bus.engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_error_dead_letters_at_once_and_purge_empties_the_queue() {
    let notification = subscriber(SubscriberKind::Notification).await;
    notification.set_faults(SubscriberFaults {
        fail_next: 1,
        status: Some(422),
        ..Default::default()
    });
    let bus = Bus::start(&[("notification", vec![notification.url()])]).await;
    bus.apply(vec![bus.subscription(
        "notify",
        "notification",
        DeliveryMode::Queue,
    )]);
    let id = bus.publish("OrderShipped", "order-2").await;
    wait_for(&notification, "the refused delivery", |d| !d.is_empty()).await;
    let dead = tokio::time::timeout(WAIT, async {
        loop {
            let dead = bus.engine.dead_letters("notify", 10).await.unwrap();
            if !dead.is_empty() {
                return dead;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(dead[0].event.id, id);
    assert_eq!(dead[0].attempts, 1, "a 4xx is not retried");
    assert!(dead[0].last_error.contains("422"), "{}", dead[0].last_error);
    assert_eq!(notification.deliveries().len(), 1);
    let missing = bus
        .engine
        .purge(
            "notify",
            None,
            DeadLetterSelection::One(dead[0].sequence + 1000),
        )
        .await
        .unwrap_err();
    assert_eq!(missing.code(), "UNKNOWN_DEAD_LETTER");
    let purged = bus
        .engine
        .purge("notify", None, DeadLetterSelection::One(dead[0].sequence))
        .await
        .unwrap();
    assert_eq!(purged, 1);
    assert!(
        bus.engine
            .dead_letters("notify", 10)
            .await
            .unwrap()
            .is_empty()
    );
    let unknown = bus.engine.dead_letters("nope", 10).await.unwrap_err();
    assert_eq!(unknown.code(), "UNKNOWN_SUBSCRIPTION");
    bus.engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordering_by_subject_delivers_one_at_a_time_in_log_order() {
    let notification = subscriber(SubscriberKind::Notification).await;
    notification.set_faults(SubscriberFaults {
        delay_ms: 30,
        // The first delivery fails once: its subject's later events wait.
        fail_next: 1,
        ..Default::default()
    });
    let bus = Bus::start(&[("notification", vec![notification.url()])]).await;
    let mut ordered = bus.subscription("notify", "notification", DeliveryMode::Queue);
    ordered.ordered_by_subject = true;
    bus.apply(vec![ordered]);
    let mut published: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for n in 0..8 {
        let subject = if n % 2 == 0 { "order-a" } else { "order-b" };
        let id = bus.publish("OrderPlaced", subject).await;
        published.entry(subject.to_owned()).or_default().push(id);
    }
    let got = wait_for(&notification, "every event delivered", |d| {
        d.iter().filter(|d| d.status == 200).count() >= 8
    })
    .await;
    for (subject, want) in &published {
        let seen: Vec<&RecordedDelivery> = got
            .iter()
            .filter(|d| d.subject.as_deref() == Some(subject.as_str()))
            .collect();
        let delivered: Vec<String> = seen
            .iter()
            .filter(|d| d.status == 200)
            .map(|d| d.id.clone())
            .collect();
        assert_eq!(&delivered, want, "subject {subject}: log order");
        for pair in seen.windows(2) {
            let first_done = pair[0].arrived.unwrap() + Duration::from_millis(30);
            assert!(
                pair[1].arrived.unwrap() >= first_done,
                "subject {subject}: one at a time"
            );
        }
    }
    bus.engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_subscription_stops_and_a_changed_one_keeps_its_cursor() {
    let inventory = subscriber(SubscriberKind::Inventory).await;
    let bus = Bus::start(&[("inventory", vec![inventory.url()])]).await;
    bus.apply(vec![bus.subscription(
        "reserve",
        "inventory",
        DeliveryMode::Queue,
    )]);
    let first = bus.publish("OrderPlaced", "order-1").await;
    wait_for(&inventory, "the first event", |d| d.len() == 1).await;
    // A change (a new timeout) restarts the worker under the same name.
    let mut changed = bus.subscription("reserve", "inventory", DeliveryMode::Queue);
    changed.timeout = Duration::from_secs(3);
    bus.apply(vec![changed]);
    let second = bus.publish("OrderPlaced", "order-2").await;
    let got = wait_for(&inventory, "the second event", |d| d.len() >= 2).await;
    assert_eq!(
        ids(&got),
        vec![first, second],
        "no event delivered twice after the change"
    );
    bus.apply(Vec::new());
    assert!(bus.engine.consumer_names().is_empty());
    assert!(bus.engine.backlogs().await.unwrap().is_empty());
    bus.engine.stop().await;
}

/// A stop that lands while the workers are still starting (before their
/// first fetch) ends them: the gateway's shutdown waits on this.
#[tokio::test]
async fn stopping_right_after_start_ends_every_worker() {
    let inventory = subscriber(SubscriberKind::Inventory).await;
    let bus = Bus::start(&[("inventory", vec![inventory.url()])]).await;
    for round in 0..20 {
        bus.apply(vec![
            bus.subscription(&format!("fan-{round}"), "inventory", DeliveryMode::Fanout),
            bus.subscription(&format!("queue-{round}"), "inventory", DeliveryMode::Queue),
        ]);
        // Let the workers reach different points of their start.
        for _ in 0..round {
            tokio::task::yield_now().await;
        }
        tokio::time::timeout(Duration::from_secs(10), bus.engine.stop())
            .await
            .unwrap_or_else(|_| panic!("round {round}: the workers did not stop"));
        assert!(bus.engine.consumer_names().is_empty());
    }
}
