//! Topic logs: durability across a reopen, positions, reads, dedupe and
//! `wait_beyond`.

use std::time::Duration;

use gateway::events::store::{Settle, StoreError};

use super::{StoreFactory, consumer, encoded, event, fetch_n, ids, publish_n, topic};

/// Everything acknowledged survives closing and reopening the store:
/// events with their positions and content, the newest position, a
/// consumer's cursor and its acks, dead letters, KV entries.
pub async fn durable_across_reopen(factory: &dyn StoreFactory) {
    let spec = topic("durable");
    let sent = event("durable-1", "order-7");
    {
        let store = factory.open("durable").await;
        store.ensure_topic(&spec).await.expect("ensure topic");
        let first = store
            .publish("durable", &encoded(&sent), Some("key-1"))
            .await
            .expect("publish");
        assert_eq!(first.position, 1);
        publish_n(&store, "durable", "more", 2).await;
        store
            .ensure_consumer(&consumer("durable", "durable-c", Duration::from_secs(30)))
            .await
            .expect("consumer");
        let got = fetch_n(&store, "durable", "durable-c", 2).await;
        got[0].settle(Settle::Ack).await.expect("ack");
        got[1]
            .settle(Settle::DeadLetter("422 from backend".into()))
            .await
            .expect("dead letter");
        let bucket = gateway::events::store::BucketSpec {
            name: "durable-kv".into(),
            ttl: None,
        };
        store.ensure_bucket(&bucket).await.expect("bucket");
        store
            .kv_put("durable-kv", "k", "v1".into())
            .await
            .expect("kv put");
    }
    let store = factory.open("durable").await;
    store.ensure_topic(&spec).await.expect("ensure topic again");
    assert_eq!(store.last_position("durable").await.expect("last"), 3);
    let events = store.read("durable", 1, 10).await.expect("read");
    assert_eq!(events.len(), 3);
    assert_eq!(*events[0].event, sent, "the event comes back as published");
    assert_eq!(events[0].position, 1);
    let again = store
        .publish("durable", &encoded(&sent), Some("key-1"))
        .await
        .expect("publish again");
    assert!(again.duplicate, "the dedupe key survives a reopen");
    assert_eq!(again.position, 1);
    store
        .ensure_consumer(&consumer("durable", "durable-c", Duration::from_secs(30)))
        .await
        .expect("consumer again");
    let rest = fetch_n(&store, "durable", "durable-c", 1).await;
    assert_eq!(ids(&rest), ["more-2"], "the cursor and the acks survive");
    let dead = store
        .dead_letters("durable", "durable-c", 10)
        .await
        .expect("dead letters");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].event.event.id, "more-1");
    let bucket = gateway::events::store::BucketSpec {
        name: "durable-kv".into(),
        ttl: None,
    };
    store.ensure_bucket(&bucket).await.expect("bucket again");
    assert_eq!(
        store
            .kv_get("durable-kv", "k")
            .await
            .expect("kv get")
            .as_deref(),
        Some(&b"v1"[..])
    );
    let next = store
        .publish("durable", &encoded(&event("durable-4", "order-7")), None)
        .await
        .expect("publish");
    assert_eq!(next.position, 4, "positions go on from the newest");
}

/// Positions start at 1 and grow by one; `read` pages in order; binary
/// data round-trips; an unknown topic is refused.
pub async fn positions_and_read(factory: &dyn StoreFactory) {
    let store = factory.open("positions").await;
    store
        .ensure_topic(&topic("positions"))
        .await
        .expect("ensure topic");
    assert_eq!(store.last_position("positions").await.expect("last"), 0);
    let positions = publish_n(&store, "positions", "p", 5).await;
    assert_eq!(positions, [1, 2, 3, 4, 5]);
    assert_eq!(store.last_position("positions").await.expect("last"), 5);
    let page = store.read("positions", 2, 2).await.expect("read");
    let got: Vec<_> = page
        .iter()
        .map(|e| (e.position, e.event.id.as_str()))
        .collect();
    assert_eq!(got, [(2, "p-2"), (3, "p-3")]);
    assert!(
        store
            .read("positions", 6, 10)
            .await
            .expect("read past the end")
            .is_empty()
    );
    // Binary data (the JSON format's `data_base64`) round-trips as it is.
    let mut binary = event("p-bin", "order-bin");
    binary.data = None;
    binary.datacontenttype = Some("application/octet-stream".to_owned());
    binary.data_base64 = Some("AAH+/w==".to_owned());
    let stored = store
        .publish("positions", &encoded(&binary), None)
        .await
        .expect("publish binary data");
    assert_eq!(stored.position, 6);
    let back = store.read("positions", 6, 1).await.expect("read");
    assert_eq!(
        *back[0].event, binary,
        "binary data comes back as published"
    );
    let unknown = store
        .publish("no-such-topic", &encoded(&event("x", "y")), None)
        .await;
    assert!(
        matches!(unknown, Err(StoreError::UnknownTopic(_))),
        "{unknown:?}"
    );
}

/// A repeated dedupe key within the window returns the first position
/// and stores nothing; after the window it is a new event.
pub async fn dedupe_window(factory: &dyn StoreFactory) {
    let store = factory.open("dedupe").await;
    let mut spec = topic("dedupe");
    spec.dedupe_window = Duration::from_millis(1500);
    store.ensure_topic(&spec).await.expect("ensure topic");
    let first = store
        .publish("dedupe", &encoded(&event("d-1", "o")), Some("idem-1"))
        .await
        .expect("publish");
    let second = store
        .publish("dedupe", &encoded(&event("d-1b", "o")), Some("idem-1"))
        .await
        .expect("again");
    assert_eq!((second.position, second.duplicate), (first.position, true));
    let other = store
        .publish("dedupe", &encoded(&event("d-2", "o")), Some("idem-2"))
        .await
        .expect("other key");
    assert!(!other.duplicate);
    assert_eq!(
        store.read("dedupe", 1, 10).await.expect("read").len(),
        2,
        "the duplicate stored nothing"
    );
    tokio::time::sleep(spec.dedupe_window + Duration::from_millis(500)).await;
    let later = store
        .publish("dedupe", &encoded(&event("d-1c", "o")), Some("idem-1"))
        .await
        .expect("later");
    assert!(!later.duplicate, "the key is forgotten after its window");
    assert_eq!(later.position, 3);
}

/// `wait_beyond` resolves when a newer event is committed, and returns
/// the newest position after its timeout otherwise.
pub async fn wait_beyond(factory: &dyn StoreFactory) {
    let store = factory.open("wait").await;
    store
        .ensure_topic(&topic("wait"))
        .await
        .expect("ensure topic");
    publish_n(&store, "wait", "w", 1).await;
    let quiet = store
        .wait_beyond("wait", 1, Duration::from_millis(50))
        .await
        .expect("wait");
    assert_eq!(
        quiet, 1,
        "nothing newer: the timeout returns the newest position"
    );
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move { store.wait_beyond("wait", 1, super::PATIENCE).await })
    };
    tokio::task::yield_now().await;
    publish_n(&store, "wait", "w-next", 1).await;
    let woke = waiter.await.expect("waiter").expect("wait");
    assert_eq!(woke, 2);
}

/// `publish_many`: one position per event, in the batch's order and
/// contiguous (nothing else publishes to the topic); a dedupe key repeated
/// inside the batch, or one seen before, answers the first event's
/// position and stores nothing; an unknown topic stores nothing.
pub async fn publish_many_in_order(factory: &dyn StoreFactory) {
    let store = factory.open("batch").await;
    store
        .ensure_topic(&topic("batch"))
        .await
        .expect("ensure topic");
    publish_n(&store, "batch", "before", 1).await;
    let batch: Vec<_> = (1..=4)
        .map(|n| {
            (
                encoded(&event(&format!("b-{n}"), "o")),
                Some(format!("k-{n}")),
            )
        })
        .chain([(encoded(&event("b-again", "o")), Some("k-2".to_owned()))])
        .chain([(encoded(&event("b-nokey", "o")), None)])
        .collect();
    let published = store.publish_many("batch", &batch).await.expect("publish");
    let got: Vec<_> = published
        .iter()
        .map(|p| (p.position, p.duplicate))
        .collect();
    assert_eq!(
        got,
        [
            (2, false),
            (3, false),
            (4, false),
            (5, false),
            (3, true),
            (6, false)
        ]
    );
    let again = store
        .publish_many("batch", &batch[..1])
        .await
        .expect("publish again");
    assert_eq!((again[0].position, again[0].duplicate), (2, true));
    let stored = store.read("batch", 1, 10).await.expect("read");
    let ids: Vec<_> = stored.iter().map(|e| e.event.id.as_str()).collect();
    assert_eq!(ids, ["before-1", "b-1", "b-2", "b-3", "b-4", "b-nokey"]);
    let unknown = store.publish_many("no-such-topic", &batch).await;
    assert!(
        matches!(unknown, Err(StoreError::UnknownTopic(_))),
        "{unknown:?}"
    );
}

/// Publishers at once (single publishes and batches, with and without a
/// dedupe key) each get their own position, with no gap and no repeat,
/// and each position reads back the event acknowledged with it: no
/// publish is answered with another's ack.
pub async fn concurrent_publishes_get_their_own_positions(factory: &dyn StoreFactory) {
    const PUBLISHERS: usize = 16;
    const ROUNDS: usize = 10;
    let store = factory.open("concurrent").await;
    store
        .ensure_topic(&topic("concurrent"))
        .await
        .expect("ensure topic");
    let tasks: Vec<_> = (0..PUBLISHERS)
        .map(|publisher| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for round in 0..ROUNDS {
                    let id = format!("c-{publisher}-{round}");
                    let key = (round % 2 == 0).then(|| format!("key-{id}"));
                    let single = store
                        .publish("concurrent", &encoded(&event(&id, "o")), key.as_deref())
                        .await
                        .expect("publish");
                    acked.push((single.position, id));
                    let batch: Vec<_> = (0..3)
                        .map(|n| {
                            let id = format!("c-{publisher}-{round}-{n}");
                            let key = (n == 1).then(|| format!("key-{id}"));
                            (encoded(&event(&id, "o")), key)
                        })
                        .collect();
                    let published = store
                        .publish_many("concurrent", &batch)
                        .await
                        .expect("publish a batch");
                    for (stored, (event, _)) in published.iter().zip(&batch) {
                        assert!(!stored.duplicate);
                        acked.push((stored.position, event.event().id.clone()));
                    }
                }
                acked
            })
        })
        .collect();
    let mut acked = Vec::new();
    for task in tasks {
        acked.extend(task.await.expect("publisher"));
    }
    acked.sort_unstable();
    let total = PUBLISHERS * ROUNDS * 4;
    let positions: Vec<u64> = acked.iter().map(|(position, _)| *position).collect();
    assert_eq!(positions, (1..=total as u64).collect::<Vec<_>>());
    let stored = store
        .read("concurrent", 1, total)
        .await
        .expect("read the log");
    let read: Vec<(u64, String)> = stored
        .iter()
        .map(|stored| (stored.position, stored.event.id.clone()))
        .collect();
    assert_eq!(read, acked);
}
