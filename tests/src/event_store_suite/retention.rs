//! Retention (`max_events`, `max_age`) and KV buckets (create, put, get,
//! TTL).

use std::time::Duration;

use bytes::Bytes;
use gateway::events::store::BucketSpec;

use super::{PATIENCE, StoreFactory, publish_n, topic};

/// At most `max_events` stay, the oldest go first; positions go on.
pub async fn retention_max_events(factory: &dyn StoreFactory) {
    let store = factory.open("max-events").await;
    let mut spec = topic("max-events");
    spec.max_events = Some(3);
    store.ensure_topic(&spec).await.expect("ensure topic");
    publish_n(&store, "max-events", "m", 5).await;
    let kept = store.read("max-events", 1, 10).await.expect("read");
    let positions: Vec<_> = kept.iter().map(|e| e.position).collect();
    assert_eq!(positions, [3, 4, 5]);
    assert_eq!(store.last_position("max-events").await.expect("last"), 5);
}

/// Events older than `max_age` are removed.
pub async fn retention_max_age(factory: &dyn StoreFactory) {
    let store = factory.open("max-age").await;
    let mut spec = topic("max-age");
    spec.max_age = Some(Duration::from_millis(500));
    store.ensure_topic(&spec).await.expect("ensure topic");
    publish_n(&store, "max-age", "a", 2).await;
    assert_eq!(store.read("max-age", 1, 10).await.expect("read").len(), 2);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !store.read("max-age", 1, 10).await.expect("read").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "events outlived max_age"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(store.last_position("max-age").await.expect("last"), 2);
}

/// `kv_create` stores only when absent and returns what is there;
/// `kv_put` overwrites; entries expire after the bucket's TTL.
pub async fn kv_buckets(factory: &dyn StoreFactory) {
    let store = factory.open("kv").await;
    let keep = BucketSpec {
        name: "kv-keep".into(),
        ttl: None,
    };
    let short = BucketSpec {
        name: "kv-short".into(),
        ttl: Some(Duration::from_millis(1000)),
    };
    store.ensure_bucket(&keep).await.expect("bucket");
    store.ensure_bucket(&short).await.expect("bucket with ttl");
    assert_eq!(store.kv_get("kv-keep", "a").await.expect("get"), None);
    let created = store
        .kv_create("kv-keep", "a", Bytes::from_static(b"first"))
        .await
        .expect("create");
    assert_eq!(created, None);
    let again = store
        .kv_create("kv-keep", "a", Bytes::from_static(b"second"))
        .await
        .expect("create");
    assert_eq!(
        again.as_deref(),
        Some(&b"first"[..]),
        "the value already there"
    );
    store
        .kv_put("kv-keep", "a", Bytes::from_static(b"third"))
        .await
        .expect("put");
    assert_eq!(
        store.kv_get("kv-keep", "a").await.expect("get").as_deref(),
        Some(&b"third"[..])
    );
    assert!(
        store.kv_get("no-such-bucket", "a").await.is_err(),
        "an unknown bucket is refused"
    );

    store
        .kv_put("kv-short", "b", Bytes::from_static(b"soon gone"))
        .await
        .expect("put");
    assert!(store.kv_get("kv-short", "b").await.expect("get").is_some());
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while store.kv_get("kv-short", "b").await.expect("get").is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the entry outlived its TTL"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recreated = store
        .kv_create("kv-short", "b", Bytes::from_static(b"new"))
        .await
        .expect("create");
    assert_eq!(
        recreated, None,
        "an expired entry is absent for kv_create too"
    );
}
