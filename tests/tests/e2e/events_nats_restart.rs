//! The NATS store through a `nats-server` restart: a burst of publishes
//! while the server stops and comes back on the same port and store
//! directory loses no acknowledged event (each acknowledged position
//! reads back with its event), and a publish with no server at all fails
//! with `Unavailable` within its documented bound, never reporting success.
//! Half the burst carries a dedupe key, so the store's retries store each
//! of those once; the keyless half is at least once (no `Nats-Msg-Id`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use gateway::events::nats::NatsEventStore;
use gateway::events::store::{EventStore, StoreError};
use tests::event_store_suite::encoded;
use tests::nats_server::NatsServer;

use super::events_nats_store::{event, settings, topic};

const BURST: usize = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_a_burst_loses_no_acknowledged_event() {
    let Some(mut server) = NatsServer::start_or_skip("nats restart burst").await else {
        return;
    };
    let store = Arc::new(
        NatsEventStore::open(&settings(&server, "GW"))
            .await
            .expect("open"),
    );
    store.ensure_topic(&topic("burst")).await.expect("topic");

    // Eight publishers; the server restarts once a quarter are acked.
    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut publishers = Vec::new();
    for worker in 0..8 {
        let store = store.clone();
        let acked = acked_tx.clone();
        publishers.push(tokio::spawn(async move {
            let mut failed = 0;
            for n in (worker..BURST).step_by(8) {
                let id = format!("e{n}");
                let key = keyed(n).then_some(id.as_str());
                match store.publish("burst", &encoded(&event(&id)), key).await {
                    Ok(published) => acked.send((id, published.position)).expect("collector"),
                    Err(StoreError::Unavailable(_)) => failed += 1,
                    Err(other) => panic!("publish {id}: {other}"),
                }
            }
            failed
        }));
    }
    drop(acked_tx);
    let mut acknowledged = BTreeMap::new();
    while acknowledged.len() < BURST / 4 {
        let (id, position) = acked_rx.recv().await.expect("publishers run");
        acknowledged.insert(position, id);
    }
    server.stop();
    server.restart().await;
    let mut failed = 0;
    for publisher in publishers {
        failed += publisher.await.expect("publisher");
    }
    while let Some((id, position)) = acked_rx.recv().await {
        assert!(
            acknowledged.insert(position, id).is_none(),
            "one position per event"
        );
    }
    eprintln!(
        "restart burst: {} acknowledged, {failed} failed with Unavailable",
        acknowledged.len()
    );
    assert_eq!(acknowledged.len() + failed, BURST);

    // Every acknowledged event reads back at its position.
    let last = store.last_position("burst").await.expect("last");
    let stored = store
        .read("burst", 1, usize::try_from(last).expect("fits"))
        .await
        .expect("read");
    let by_position: BTreeMap<u64, String> = stored
        .iter()
        .map(|e| (e.position, e.event.id.clone()))
        .collect();
    for (position, id) in &acknowledged {
        assert_eq!(
            by_position.get(position),
            Some(id),
            "acknowledged event at {position}"
        );
    }
    // Retries of keyed publishes were deduped: each is stored at most once.
    let mut keyed_ids: Vec<&String> = by_position
        .values()
        .filter(|id| id[1..].parse().is_ok_and(keyed))
        .collect();
    keyed_ids.sort();
    let stored_count = keyed_ids.len();
    keyed_ids.dedup();
    assert_eq!(keyed_ids.len(), stored_count, "no keyed event stored twice");
    assert!(stored_count > 0, "keyed events were stored");
}

/// Whether the burst's `n`th event is published with a dedupe key.
fn keyed(n: usize) -> bool {
    n.is_multiple_of(2)
}

#[tokio::test]
async fn a_publish_without_a_server_fails_unavailable() {
    let Some(mut server) = NatsServer::start_or_skip("nats unavailable").await else {
        return;
    };
    let mut config = settings(&server, "GW");
    config.request_timeout = Duration::from_millis(300);
    let store = NatsEventStore::open(&config).await.expect("open");
    store.ensure_topic(&topic("gone")).await.expect("topic");
    server.kill();
    let started = tokio::time::Instant::now();
    let result = store.publish("gone", &encoded(&event("x")), None).await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    eprintln!(
        "publish without a server failed after {:?}",
        started.elapsed()
    );

    let refused = NatsEventStore::open(&config).await;
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn the_raw_jetstream_reference_measures_acked_publishes() {
    use tests::compare::loadgen::LoadPlan;
    use tests::compare::probes::measure_raw_jetstream_publish;
    let Some(server) = NatsServer::start_or_skip("raw jetstream reference").await else {
        return;
    };
    let plan = LoadPlan::closed(2, Duration::from_millis(200), Duration::from_millis(50));
    let stats =
        measure_raw_jetstream_publish(&server.url(), bytes::Bytes::from_static(b"{}"), plan)
            .await
            .expect("measured");
    eprintln!(
        "raw JetStream publish: {:.0}/s p50 {} p99 {}",
        stats.throughput, stats.p50, stats.p99
    );
    assert!(stats.ok > 0 && stats.errors == 0, "{stats:?}");
}
