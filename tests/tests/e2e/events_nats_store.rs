//! The NATS JetStream event store against a real `nats-server -js`
//! (started on a free port with a temporary store): publish with a
//! JetStream ack and dedupe, reads by position, `wait_beyond`, durable
//! consumers (redelivery after `ack_wait`, naks with delay, attempts),
//! dead letters with replay and purge, KV buckets, and the stream layout
//! other tools see (docs/events.md#nats-jetstream).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gateway::config::model::events::{NatsStore, StartFrom, TopicSpec};
use gateway::events::cloud_event::CloudEvent;
use gateway::events::nats::NatsEventStore;
use gateway::events::store::{
    BucketSpec, ConsumerSpec, DeadLetterSelection, EventStore, Settle, StoreError,
};
use serde_json::json;
use tests::event_store_suite::encoded;
use tests::gateway::eventually;
use tests::mocks::within;
use tests::nats_server::NatsServer;

pub fn settings(server: &NatsServer, prefix: &str) -> NatsStore {
    NatsStore {
        urls: vec![server.url()],
        stream_prefix: prefix.to_owned(),
        request_timeout: Duration::from_secs(2),
        outbox_dir: std::env::temp_dir(),
    }
}

pub fn topic(name: &str) -> TopicSpec {
    TopicSpec {
        name: name.to_owned(),
        max_event_bytes: 64 * 1024,
        dedupe_window: Duration::from_secs(60),
        max_age: None,
        max_events: None,
        default_source: "/tests".to_owned(),
        max_streams: TopicSpec::DEFAULT_MAX_STREAMS,
    }
}

pub fn event(id: &str) -> CloudEvent {
    CloudEvent {
        specversion: "1.0".to_owned(),
        id: id.to_owned(),
        source: "/tests".to_owned(),
        event_type: "OrderPlaced".to_owned(),
        subject: Some("order-1".to_owned()),
        time: None,
        datacontenttype: Some("application/json".to_owned()),
        data: Some(json!({"order_id": id})),
        data_base64: None,
        extensions: BTreeMap::new(),
    }
}

fn consumer(topic: &str, name: &str, ack_wait: Duration) -> ConsumerSpec {
    ConsumerSpec {
        topic: topic.to_owned(),
        name: name.to_owned(),
        start: StartFrom::Earliest,
        ack_wait,
    }
}

async fn store_on(server: &NatsServer) -> NatsEventStore {
    NatsEventStore::open(&settings(server, "GW"))
        .await
        .expect("the store opens")
}

/// A publish the stream refuses (here: full, with an operator's
/// `discard: new`, which the store keeps) comes back as JetStream's error
/// ack, which the ack reader's full decode reads (the fast path reads only
/// successes): an error carrying the server's reason, never retried, and
/// nothing stored.
#[tokio::test]
async fn a_publish_the_stream_refuses_fails_with_the_servers_reason() {
    let Some(server) = NatsServer::start_or_skip("nats refusal").await else {
        return;
    };
    let store = store_on(&server).await;
    let spec = TopicSpec {
        max_events: Some(1),
        ..topic("full")
    };
    store.ensure_topic(&spec).await.expect("topic");
    let js = store.context();
    let mut config = js
        .get_stream("GW_full")
        .await
        .expect("stream")
        .cached_info()
        .config
        .clone();
    config.discard = async_nats::jetstream::stream::DiscardPolicy::New;
    js.update_stream(config).await.expect("update");
    store
        .publish("full", &encoded(&event("a")), None)
        .await
        .expect("the first event fits");
    let refused = store.publish("full", &encoded(&event("b")), None).await;
    let Err(StoreError::Unavailable(reason)) = &refused else {
        panic!("{refused:?}");
    };
    assert!(reason.contains("maximum messages"), "{reason}");
    assert!(reason.contains("after 1 attempts"), "not retried: {reason}");
    let stored = store.read("full", 1, 10).await.expect("read");
    assert_eq!(stored.len(), 1);
}

#[tokio::test]
async fn publishes_are_acked_positioned_and_deduped() {
    let Some(server) = NatsServer::start_or_skip("nats publish").await else {
        return;
    };
    let store = store_on(&server).await;
    store.ensure_topic(&topic("orders")).await.expect("topic");

    let first = store
        .publish("orders", &encoded(&event("a")), Some("key-a"))
        .await
        .expect("publish");
    let second = store
        .publish("orders", &encoded(&event("b")), None)
        .await
        .expect("publish");
    let again = store
        .publish("orders", &encoded(&event("a")), Some("key-a"))
        .await
        .expect("publish");
    assert_eq!((first.position, first.duplicate), (1, false));
    assert_eq!((second.position, second.duplicate), (2, false));
    assert_eq!(
        (again.position, again.duplicate),
        (1, true),
        "same key: first position"
    );
    assert_eq!(store.last_position("orders").await.expect("last"), 2);

    let read = store.read("orders", 1, 10).await.expect("read");
    let ids: Vec<_> = read
        .iter()
        .map(|e| (e.position, e.event.id.as_str()))
        .collect();
    assert_eq!(ids, [(1, "a"), (2, "b")]);
    assert_eq!(*read[0].event, event("a"), "the event round-trips");
    assert_eq!(store.read("orders", 2, 10).await.expect("read").len(), 1);
    assert!(store.read("orders", 3, 10).await.expect("read").is_empty());

    let unknown = store.publish("nope", &encoded(&event("x")), None).await;
    assert!(
        matches!(unknown, Err(StoreError::UnknownTopic(_))),
        "{unknown:?}"
    );
    assert!(matches!(
        store.ensure_topic(&topic("orders.v1")).await,
        Err(StoreError::Failed(_))
    ));

    // The layout documented for operators.
    let stream = store
        .context()
        .get_stream("GW_orders")
        .await
        .expect("stream GW_orders");
    assert_eq!(stream.cached_info().config.subjects, ["GW.orders"]);
    assert_eq!(
        stream.cached_info().config.duplicate_window,
        Duration::from_secs(60)
    );
}

#[tokio::test]
async fn retention_keeps_the_newest_events() {
    let Some(server) = NatsServer::start_or_skip("nats retention").await else {
        return;
    };
    let store = store_on(&server).await;
    let spec = TopicSpec {
        max_events: Some(3),
        ..topic("capped")
    };
    store.ensure_topic(&spec).await.expect("topic");
    for n in 0..5 {
        store
            .publish("capped", &encoded(&event(&format!("e{n}"))), None)
            .await
            .expect("publish");
    }
    let read = store.read("capped", 1, 10).await.expect("read");
    let positions: Vec<u64> = read.iter().map(|e| e.position).collect();
    assert_eq!(
        positions,
        [3, 4, 5],
        "the oldest went first; positions kept"
    );

    // A changed retention updates the stream in place.
    let longer = TopicSpec {
        max_events: Some(10),
        max_age: Some(Duration::from_secs(3600)),
        ..spec
    };
    store.ensure_topic(&longer).await.expect("update");
    let info = store
        .context()
        .get_stream("GW_capped")
        .await
        .expect("stream");
    assert_eq!(info.cached_info().config.max_messages, 10);
    assert_eq!(info.cached_info().config.max_age, Duration::from_secs(3600));
}

#[tokio::test]
async fn wait_beyond_wakes_on_a_publish() {
    let Some(server) = NatsServer::start_or_skip("nats wait_beyond").await else {
        return;
    };
    let store = Arc::new(store_on(&server).await);
    store.ensure_topic(&topic("live")).await.expect("topic");
    store
        .publish("live", &encoded(&event("0")), None)
        .await
        .expect("publish");
    let idle = store
        .wait_beyond("live", 1, Duration::from_millis(50))
        .await
        .expect("wait");
    assert_eq!(
        idle, 1,
        "nothing new: the newest position after the timeout"
    );

    let waiter = {
        let store = store.clone();
        tokio::spawn(async move { store.wait_beyond("live", 1, Duration::from_secs(30)).await })
    };
    // Not yet woken while nothing is published.
    tokio::task::yield_now().await;
    publish_wakes(&store, "live", waiter).await;
}

/// Publishes the topic's second event and expects `waiter` (a
/// `wait_beyond` past position 1) to wake with position 2.
async fn publish_wakes(
    store: &NatsEventStore,
    topic: &str,
    waiter: tokio::task::JoinHandle<Result<u64, StoreError>>,
) {
    store
        .publish(topic, &encoded(&event("1")), None)
        .await
        .expect("publish");
    let woken = within("wait_beyond to wake", waiter).await.expect("joined");
    assert_eq!(woken.expect("wait"), 2);
}

/// The topic's consumers with a subscriber bound (the watch behind
/// `wait_beyond` is one while it runs).
async fn bound_consumers(store: &NatsEventStore, stream: &str) -> usize {
    use futures::StreamExt;
    let stream = store.context().get_stream(stream).await.expect("stream");
    let infos: Vec<_> = stream.consumers().collect().await;
    infos
        .into_iter()
        .map(|info| info.expect("consumer info"))
        .filter(|info| info.push_bound)
        .count()
}

/// A watch nobody waits on stops (its consumer is no longer bound, so the
/// server stops sending it every event's headers); the next wait starts
/// another, which wakes on a publish as the first did.
#[tokio::test]
async fn an_idle_topic_watch_stops_and_the_next_wait_starts_another() {
    let Some(server) = NatsServer::start_or_skip("nats idle watch").await else {
        return;
    };
    let store = Arc::new(
        store_on(&server)
            .await
            .with_watch_idle(Duration::from_millis(200)),
    );
    store.ensure_topic(&topic("idle")).await.expect("topic");
    store
        .publish("idle", &encoded(&event("0")), None)
        .await
        .expect("publish");
    assert_eq!(bound_consumers(&store, "GW_idle").await, 0);
    let newest = store
        .wait_beyond("idle", 1, Duration::from_millis(20))
        .await
        .expect("wait");
    assert_eq!(newest, 1);
    assert_eq!(
        bound_consumers(&store, "GW_idle").await,
        1,
        "the first wait started the watch"
    );
    eventually("the idle watch to stop", || async {
        bound_consumers(&store, "GW_idle").await == 0
    })
    .await;

    let waiter = {
        let store = store.clone();
        tokio::spawn(async move { store.wait_beyond("idle", 1, Duration::from_secs(30)).await })
    };
    eventually("a new watch", || async {
        bound_consumers(&store, "GW_idle").await == 1
    })
    .await;
    publish_wakes(&store, "idle", waiter).await;
}

#[tokio::test]
async fn consumers_redeliver_until_settled() {
    let Some(server) = NatsServer::start_or_skip("nats consumers").await else {
        return;
    };
    let store = store_on(&server).await;
    store.ensure_topic(&topic("work")).await.expect("topic");
    for id in ["a", "b", "c"] {
        store
            .publish("work", &encoded(&event(id)), None)
            .await
            .expect("publish");
    }
    store
        .ensure_consumer(&consumer("work", "worker", Duration::from_millis(500)))
        .await
        .expect("consumer");
    assert_eq!(store.pending("work", "worker").await.expect("pending"), 3);

    let batch = store
        .fetch("work", "worker", 10, Duration::from_secs(5))
        .await
        .expect("fetch");
    let got: Vec<_> = batch
        .iter()
        .map(|d| (d.event.position, d.attempt))
        .collect();
    assert_eq!(got, [(1, 1), (2, 1), (3, 1)]);
    batch[0].settle(Settle::Ack).await.expect("ack");
    batch[1]
        .settle(Settle::Retry(Duration::from_millis(100)))
        .await
        .expect("nak");
    assert!(batch[0].settle(Settle::Ack).await.is_err(), "settled once");
    // batch[2] is left unsettled: redelivered after ack_wait.

    let mut redelivered = Vec::new();
    while redelivered.len() < 2 {
        let more = store
            .fetch("work", "worker", 10, Duration::from_secs(5))
            .await
            .expect("fetch");
        assert!(!more.is_empty(), "redeliveries within the wait");
        redelivered.extend(more);
    }
    let mut again: Vec<_> = redelivered
        .iter()
        .map(|d| (d.event.position, d.attempt))
        .collect();
    again.sort_unstable();
    assert_eq!(again, [(2, 2), (3, 2)], "attempt = delivered count");
    for delivery in &redelivered {
        delivery.settle(Settle::Ack).await.expect("ack");
    }
    eventually("no pending events", || async {
        store.pending("work", "worker").await.expect("pending") == 0
    })
    .await;
    let none = store
        .fetch("work", "worker", 10, Duration::from_millis(100))
        .await
        .expect("fetch");
    assert!(none.is_empty());

    // A second store (another gateway) on the same consumer keeps its cursor.
    let other = store_on(&server).await;
    other
        .ensure_consumer(&consumer("work", "worker", Duration::from_millis(500)))
        .await
        .expect("consumer");
    store
        .publish("work", &encoded(&event("d")), None)
        .await
        .expect("publish");
    let next = other
        .fetch("work", "worker", 10, Duration::from_secs(5))
        .await
        .expect("fetch");
    assert_eq!(
        next.iter().map(|d| d.event.position).collect::<Vec<_>>(),
        [4]
    );
    next[0].settle(Settle::Ack).await.expect("ack");
}

#[tokio::test]
async fn dead_letters_list_replay_and_purge() {
    let Some(server) = NatsServer::start_or_skip("nats dead letters").await else {
        return;
    };
    let store = store_on(&server).await;
    store.ensure_topic(&topic("mail")).await.expect("topic");
    store
        .ensure_consumer(&consumer("mail", "notify", Duration::from_secs(30)))
        .await
        .expect("consumer");
    store
        .ensure_consumer(&consumer("mail", "audit", Duration::from_secs(30)))
        .await
        .expect("consumer");
    for id in ["a", "b", "c"] {
        store
            .publish("mail", &encoded(&event(id)), None)
            .await
            .expect("publish");
    }
    let batch = store
        .fetch("mail", "notify", 10, Duration::from_secs(5))
        .await
        .expect("fetch");
    assert_eq!(batch.len(), 3);
    for delivery in &batch {
        delivery
            .settle(Settle::DeadLetter(
                "HTTP 404 from notification\r\n".to_owned(),
            ))
            .await
            .expect("dead-letter");
    }
    let dead = store
        .dead_letters("mail", "notify", 10)
        .await
        .expect("list");
    assert_eq!(dead.len(), 3);
    assert_eq!(dead[0].event.event.id, "a", "original event id");
    assert_eq!(dead[0].event.position, 1, "original position");
    assert_eq!(dead[0].attempts, 1);
    assert_eq!(dead[0].last_error, "HTTP 404 from notification");
    assert!(
        store
            .dead_letters("mail", "audit", 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        store
            .dead_letters("mail", "notify", 2)
            .await
            .expect("list")
            .len(),
        2
    );

    // Replay one: delivered again to that consumer only, attempt 1, same id.
    let one = dead[1].sequence;
    assert_eq!(
        store
            .replay_dead_letters("mail", "notify", DeadLetterSelection::One(one))
            .await
            .expect("replay"),
        1
    );
    let replayed = store
        .fetch("mail", "notify", 10, Duration::from_secs(5))
        .await
        .expect("fetch");
    assert_eq!(replayed.len(), 1);
    assert_eq!(
        (
            replayed[0].event.event.id.as_str(),
            replayed[0].event.position,
            replayed[0].attempt
        ),
        ("b", 2, 1)
    );
    replayed[0].settle(Settle::Ack).await.expect("ack");
    let audit = store
        .fetch("mail", "audit", 10, Duration::from_secs(5))
        .await
        .expect("fetch");
    assert_eq!(audit.len(), 3, "the other consumer sees only the log");

    // Purge one, then replay the rest, then purge finds nothing.
    let remaining = store
        .dead_letters("mail", "notify", 10)
        .await
        .expect("list");
    assert_eq!(remaining.len(), 2);
    assert_eq!(
        store
            .purge_dead_letters(
                "mail",
                "notify",
                DeadLetterSelection::One(remaining[0].sequence)
            )
            .await
            .expect("purge"),
        1
    );
    assert_eq!(
        store
            .purge_dead_letters(
                "mail",
                "audit",
                DeadLetterSelection::One(remaining[1].sequence)
            )
            .await
            .expect("purge"),
        0,
        "another consumer's entry is not purged"
    );
    assert_eq!(
        store
            .replay_dead_letters("mail", "notify", DeadLetterSelection::All)
            .await
            .expect("replay"),
        1
    );
    let last = store
        .fetch("mail", "notify", 10, Duration::from_secs(5))
        .await
        .expect("fetch");
    assert_eq!(
        last.iter()
            .map(|d| d.event.event.id.as_str())
            .collect::<Vec<_>>(),
        ["c"]
    );
    // A replayed event that fails again is dead-lettered again.
    last[0]
        .settle(Settle::DeadLetter("still failing".to_owned()))
        .await
        .expect("dead-letter");
    let again = store
        .dead_letters("mail", "notify", 10)
        .await
        .expect("list");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].last_error, "still failing");
    assert_eq!(
        store
            .purge_dead_letters("mail", "notify", DeadLetterSelection::All)
            .await
            .expect("purge"),
        1
    );
    assert!(
        store
            .dead_letters("mail", "notify", 10)
            .await
            .expect("list")
            .is_empty()
    );

    store
        .remove_consumer("mail", "notify")
        .await
        .expect("remove");
    assert!(
        store
            .fetch("mail", "notify", 1, Duration::ZERO)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn kv_buckets_create_once_put_and_get() {
    let Some(server) = NatsServer::start_or_skip("nats kv").await else {
        return;
    };
    let store = store_on(&server).await;
    let bucket = BucketSpec {
        name: "requests".to_owned(),
        ttl: Some(Duration::from_secs(3600)),
    };
    store.ensure_bucket(&bucket).await.expect("bucket");
    store
        .ensure_bucket(&bucket)
        .await
        .expect("ensure is idempotent");
    let key = "Idempotency-Key: a b/c.d";
    assert_eq!(
        store
            .kv_create("requests", key, Bytes::from("first"))
            .await
            .expect("create"),
        None
    );
    assert_eq!(
        store
            .kv_create("requests", key, Bytes::from("second"))
            .await
            .expect("create"),
        Some(Bytes::from("first")),
        "the first value wins"
    );
    store
        .kv_put("requests", key, Bytes::from("done"))
        .await
        .expect("put");
    assert_eq!(
        store.kv_get("requests", key).await.expect("get"),
        Some(Bytes::from("done"))
    );
    assert_eq!(
        store.kv_get("requests", "missing").await.expect("get"),
        None
    );

    // A short TTL removes entries.
    let short = BucketSpec {
        name: "short".to_owned(),
        ttl: Some(Duration::from_millis(300)),
    };
    store.ensure_bucket(&short).await.expect("bucket");
    store
        .kv_put("short", "k", Bytes::from("v"))
        .await
        .expect("put");
    eventually("the entry to expire", || async {
        store.kv_get("short", "k").await.expect("get").is_none()
    })
    .await;
}
