use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::config::model::events::{EmbeddedStore, TopicSpec};
use crate::events::embedded::EmbeddedEventStore;

fn event(id: &str) -> CloudEvent {
    CloudEvent {
        specversion: "1.0".into(),
        id: id.into(),
        source: "/orders".into(),
        event_type: "OrderPlaced".into(),
        subject: Some("o-1".into()),
        time: None,
        datacontenttype: None,
        data: Some(serde_json::json!({"order_id": "o-1"})),
        data_base64: None,
        extensions: BTreeMap::new(),
    }
}

#[tokio::test]
async fn entries_survive_a_reopen_in_order_and_leave_when_removed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let outbox = Outbox::open(dir.path()).await.unwrap();
        for id in ["a", "b", "c"] {
            outbox.append("orders", &event(id)).await.unwrap();
        }
        assert_eq!(outbox.len(), 3);
    }
    let outbox = Outbox::open(dir.path()).await.unwrap();
    assert_eq!(outbox.len(), 3, "counted again at open");
    let waiting = outbox.oldest(10).await.unwrap();
    let ids: Vec<_> = waiting
        .iter()
        .map(|(_, entry)| entry.as_ref().unwrap().event.id.clone())
        .collect();
    assert_eq!(ids, ["a", "b", "c"]);
    outbox.remove(waiting[0].0).await.unwrap();
    outbox.append("orders", &event("d")).await.unwrap();
    let ids: Vec<_> = outbox
        .oldest(10)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, entry)| entry.unwrap().event.id)
        .collect();
    assert_eq!(
        ids,
        ["b", "c", "d"],
        "new entries go after the reopened ones"
    );
    assert_eq!(outbox.len(), 3);
}

#[tokio::test]
async fn a_full_outbox_refuses_and_keeps_what_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open_bounded(dir.path(), 2).await.unwrap();
    outbox.append("orders", &event("a")).await.unwrap();
    outbox.append("orders", &event("b")).await.unwrap();
    let refused = outbox.append("orders", &event("c")).await.unwrap_err();
    assert!(refused.to_string().contains("full"), "{refused}");
    assert_eq!(outbox.len(), 2);
}

#[tokio::test]
async fn the_relay_publishes_in_order_once_and_empties_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedEventStore::open(&EmbeddedStore {
        data_dir: dir.path().join("store"),
        commit_window: Duration::ZERO,
    })
    .await
    .unwrap();
    let store: SharedStore = Arc::new(store);
    store
        .ensure_topic(&TopicSpec {
            name: "orders".into(),
            max_event_bytes: 64 * 1024,
            dedupe_window: Duration::from_secs(60),
            max_age: None,
            max_events: None,
            default_source: "/orders".into(),
            max_streams: TopicSpec::DEFAULT_MAX_STREAMS,
        })
        .await
        .unwrap();
    // "b" was in fact stored before it went to the outbox (a publish that
    // timed out but landed): the relay's retry is a duplicate.
    let already = event("b");
    store
        .publish(
            "orders",
            &crate::events::store::EncodedEvent::new(already.clone()),
            Some(&crate::events::publish::event_dedupe_key(&already)),
        )
        .await
        .unwrap();
    let outbox = Outbox::open(&dir.path().join("outbox")).await.unwrap();
    for id in ["a", "b", "c"] {
        outbox.append("orders", &event(id)).await.unwrap();
    }
    outbox.append("gone", &event("x")).await.unwrap();
    let stop = CancellationToken::new();
    let relay = tokio::spawn(relay(
        Arc::clone(&outbox),
        Arc::clone(&store),
        None,
        stop.clone(),
    ));
    tokio::time::timeout(Duration::from_secs(10), async {
        while !outbox.is_empty() {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the outbox empties");
    stop.cancel();
    relay.await.unwrap();
    let stored: Vec<_> = store
        .read("orders", 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|stored| stored.event.id.clone())
        .collect();
    assert_eq!(
        stored,
        ["b", "a", "c"],
        "each once, outbox order after the earlier b"
    );
}
