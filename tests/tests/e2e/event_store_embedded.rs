//! The event store conformance suite (`tests::event_store_suite`) against
//! the embedded redb store, each function in a fresh temporary data
//! directory; "reopen" opens the same directory again.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use gateway::config::model::events::EmbeddedStore;
use gateway::events::embedded::EmbeddedEventStore;
use gateway::events::store::SharedStore;
use tests::event_store_suite as suite;

struct Embedded {
    dir: tempfile::TempDir,
    commit_window: Duration,
}

impl Embedded {
    fn new(commit_window: Duration) -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            commit_window,
        }
    }
}

#[async_trait]
impl suite::StoreFactory for Embedded {
    async fn open(&self, scope: &str) -> SharedStore {
        let settings = EmbeddedStore {
            data_dir: PathBuf::from(self.dir.path()).join(scope),
            commit_window: self.commit_window,
        };
        std::sync::Arc::new(EmbeddedEventStore::open(&settings).await.unwrap())
    }
}

fn grouped() -> Embedded {
    Embedded::new(Duration::from_millis(2))
}

#[tokio::test]
async fn embedded_store_durable_across_reopen() {
    suite::durable_across_reopen(&grouped()).await;
}

#[tokio::test]
async fn embedded_store_durable_across_reopen_without_group_commit() {
    suite::durable_across_reopen(&Embedded::new(Duration::ZERO)).await;
}

#[tokio::test]
async fn embedded_store_positions_and_read() {
    suite::positions_and_read(&grouped()).await;
}

#[tokio::test]
async fn embedded_store_publish_many_in_order() {
    suite::publish_many_in_order(&grouped()).await;
}

#[tokio::test]
async fn embedded_store_dedupe_window() {
    suite::dedupe_window(&grouped()).await;
}

#[tokio::test]
async fn embedded_store_wait_beyond() {
    suite::wait_beyond(&grouped()).await;
}

#[tokio::test]
async fn embedded_store_consumer_start_and_remove() {
    suite::consumer_start_and_remove(&grouped()).await;
}

#[tokio::test]
async fn embedded_store_redelivery_after_ack_wait() {
    suite::redelivery_after_ack_wait(&grouped()).await;
}

#[tokio::test]
async fn embedded_store_retry_delay() {
    suite::retry_delay(&grouped()).await;
}

#[tokio::test]
async fn embedded_store_dead_letter_replay_purge() {
    suite::dead_letter_replay_purge(&grouped()).await;
}

#[tokio::test]
async fn embedded_store_retention_max_events() {
    suite::retention_max_events(&grouped()).await;
}

#[tokio::test]
async fn embedded_store_retention_max_age() {
    suite::retention_max_age(&grouped()).await;
}

#[tokio::test]
async fn embedded_store_kv_buckets() {
    suite::kv_buckets(&grouped()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_store_concurrent_publishes_get_their_own_positions() {
    suite::concurrent_publishes_get_their_own_positions(&grouped()).await;
}

/// Concurrent publishers share commits and every one gets its own
/// position: no gap, no duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_store_group_commit_assigns_every_position_once() {
    let factory = grouped();
    let store = suite::StoreFactory::open(&factory, "group").await;
    store.ensure_topic(&suite::topic("group")).await.unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|publisher| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut positions = Vec::new();
                for i in 0..25 {
                    let event = suite::event(&format!("g-{publisher}-{i}"), "o");
                    positions.push(
                        store
                            .publish("group", &suite::encoded(&event), None)
                            .await
                            .unwrap()
                            .position,
                    );
                }
                positions
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (1..=400).collect::<Vec<u64>>());
}
