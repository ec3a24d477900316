//! The cursor against the embedded store in a temporary directory.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::config::model::events::{EmbeddedStore, TopicSpec};
use crate::events::cloud_event::CloudEvent;
use crate::events::embedded::EmbeddedEventStore;
use crate::events::store::{EncodedEvent, EventStore};

fn topic(max_events: Option<u64>) -> TopicSpec {
    TopicSpec {
        name: "orders".to_owned(),
        max_event_bytes: 4096,
        dedupe_window: Duration::from_secs(60),
        max_age: None,
        max_events,
        default_source: "/tests".to_owned(),
        max_streams: TopicSpec::DEFAULT_MAX_STREAMS,
    }
}

async fn store(dir: &tempfile::TempDir, max_events: Option<u64>) -> SharedStore {
    let store = EmbeddedEventStore::open(&EmbeddedStore {
        data_dir: dir.path().to_owned(),
        commit_window: Duration::ZERO,
    })
    .await
    .expect("open");
    store.ensure_topic(&topic(max_events)).await.expect("topic");
    Arc::new(store)
}

async fn publish(store: &SharedStore, n: u32) {
    let subject = if n.is_multiple_of(2) { "even" } else { "odd" };
    let event = CloudEvent {
        specversion: "1.0".to_owned(),
        id: format!("e{n}"),
        source: "/tests".to_owned(),
        event_type: "OrderPlaced".to_owned(),
        subject: Some(subject.to_owned()),
        time: None,
        datacontenttype: None,
        data: None,
        data_base64: None,
        extensions: BTreeMap::new(),
    };
    store
        .publish("orders", &EncodedEvent::new(event), None)
        .await
        .expect("publish");
}

async fn next_items(cursor: &mut LogCursor, count: usize) -> Vec<String> {
    let mut items = Vec::new();
    for _ in 0..count {
        let item = tokio::time::timeout(Duration::from_secs(5), cursor.next())
            .await
            .expect("an item in time")
            .expect("read");
        items.push(match item {
            StreamItem::Event(stored) => format!("{}:{}", stored.position, stored.event.id),
            StreamItem::Gap(gap) => {
                format!("gap {} {}->{}", gap.code, gap.requested, gap.resumes_at)
            }
        });
    }
    items
}

#[tokio::test]
async fn resuming_after_a_position_reads_exactly_what_follows_in_small_pages() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir, None).await;
    for n in 1..=5 {
        publish(&store, n).await;
    }
    let mut cursor = LogCursor::open(
        store.clone(),
        "orders",
        Start::After(2),
        EventFilter::default(),
        2,
    )
    .await
    .unwrap();
    assert_eq!(next_items(&mut cursor, 3).await, ["3:e3", "4:e4", "5:e5"]);
    // Caught up: the next event is waited for.
    let waiting = tokio::spawn(async move { next_items(&mut cursor, 1).await });
    publish(&store, 6).await;
    assert_eq!(waiting.await.unwrap(), ["6:e6"]);
}

#[tokio::test]
async fn latest_starts_after_the_newest_and_earliest_at_the_oldest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir, Some(3)).await;
    for n in 1..=5 {
        publish(&store, n).await;
    }
    let mut latest = LogCursor::open(
        store.clone(),
        "orders",
        Start::Latest,
        EventFilter::default(),
        8,
    )
    .await
    .unwrap();
    let mut earliest = LogCursor::open(
        store.clone(),
        "orders",
        Start::Earliest,
        EventFilter::default(),
        8,
    )
    .await
    .unwrap();
    assert_eq!(latest.next_position(), 6);
    publish(&store, 6).await;
    assert_eq!(next_items(&mut latest, 1).await, ["6:e6"]);
    // Retention kept 3 (then 4 with the sixth): no gap notice for earliest.
    assert_eq!(next_items(&mut earliest, 3).await, ["4:e4", "5:e5", "6:e6"]);
}

#[tokio::test]
async fn expired_and_past_end_positions_are_told_before_the_first_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir, Some(3)).await;
    for n in 1..=6 {
        publish(&store, n).await;
    }
    let mut expired = LogCursor::open(
        store.clone(),
        "orders",
        Start::After(1),
        EventFilter::default(),
        8,
    )
    .await
    .unwrap();
    assert_eq!(
        next_items(&mut expired, 2).await,
        ["gap EVENTS_EXPIRED 2->4", "4:e4"]
    );
    let mut past = LogCursor::open(
        store.clone(),
        "orders",
        Start::After(40),
        EventFilter::default(),
        8,
    )
    .await
    .unwrap();
    assert_eq!(
        next_items(&mut past, 2).await,
        ["gap POSITION_PAST_END 41->4", "4:e4"]
    );
    // The next one after the newest is not past the end.
    let mut at_end = LogCursor::open(
        store.clone(),
        "orders",
        Start::After(6),
        EventFilter::default(),
        8,
    )
    .await
    .unwrap();
    publish(&store, 7).await;
    assert_eq!(next_items(&mut at_end, 1).await, ["7:e7"]);
}

#[tokio::test]
async fn a_filter_skips_other_subjects_without_losing_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir, None).await;
    for n in 1..=7 {
        publish(&store, n).await;
    }
    let filter = EventFilter {
        subjects: vec!["even".to_owned()],
        types: vec![],
    };
    let mut cursor = LogCursor::open(store.clone(), "orders", Start::Earliest, filter, 2)
        .await
        .unwrap();
    assert_eq!(next_items(&mut cursor, 3).await, ["2:e2", "4:e4", "6:e6"]);
    assert_eq!(cursor.next_position(), 7, "the odd ones were read past");
}

#[test]
fn pages_are_bounded_by_bytes_and_count() {
    assert_eq!(page_size(256 * 1024), 4);
    assert_eq!(page_size(1024 * 1024), 1);
    assert_eq!(page_size(100), MAX_PAGE_EVENTS);
}
