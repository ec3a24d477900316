//! Durable consumers: where they start, their lag, at-least-once
//! redelivery after `ack_wait`, retry delays, removal.

use std::time::Duration;

use gateway::config::model::events::StartFrom;
use gateway::events::store::Settle;

use super::{StoreFactory, consumer, fetch_n, ids, publish_n, topic};

/// `New` starts after the newest event, `Earliest` at the first; an
/// existing consumer keeps its cursor; `pending` counts what is not
/// settled; a removed consumer is gone.
pub async fn consumer_start_and_remove(factory: &dyn StoreFactory) {
    let store = factory.open("start").await;
    store
        .ensure_topic(&topic("start"))
        .await
        .expect("ensure topic");
    publish_n(&store, "start", "old", 2).await;
    let mut fresh = consumer("start", "start-new", Duration::from_secs(30));
    fresh.start = StartFrom::New;
    store.ensure_consumer(&fresh).await.expect("new consumer");
    let earliest = consumer("start", "start-earliest", Duration::from_secs(30));
    store
        .ensure_consumer(&earliest)
        .await
        .expect("earliest consumer");
    publish_n(&store, "start", "new", 1).await;
    assert_eq!(
        ids(&fetch_n(&store, "start", "start-new", 1).await),
        ["new-1"]
    );
    let all = fetch_n(&store, "start", "start-earliest", 3).await;
    assert_eq!(ids(&all), ["old-1", "old-2", "new-1"]);
    assert!(all.iter().all(|d| d.attempt == 1));
    assert_eq!(
        store
            .pending("start", "start-earliest")
            .await
            .expect("pending"),
        3
    );
    all[0].settle(Settle::Ack).await.expect("ack");
    assert_eq!(
        store
            .pending("start", "start-earliest")
            .await
            .expect("pending"),
        2
    );
    store
        .ensure_consumer(&earliest)
        .await
        .expect("ensure again keeps the cursor");
    let none = store
        .fetch("start", "start-earliest", 10, Duration::ZERO)
        .await
        .expect("fetch");
    assert!(
        none.is_empty(),
        "nothing new and nothing due: {:?}",
        ids(&none)
    );
    store
        .remove_consumer("start", "start-earliest")
        .await
        .expect("remove");
    let gone = store
        .fetch("start", "start-earliest", 10, Duration::ZERO)
        .await;
    assert!(gone.is_err(), "a removed consumer cannot fetch");
}

/// A delivery not settled within `ack_wait` comes again with a higher
/// attempt count; an acked one never does.
pub async fn redelivery_after_ack_wait(factory: &dyn StoreFactory) {
    let store = factory.open("redeliver").await;
    store
        .ensure_topic(&topic("redeliver"))
        .await
        .expect("ensure topic");
    let spec = consumer("redeliver", "redeliver-c", Duration::from_millis(700));
    store.ensure_consumer(&spec).await.expect("consumer");
    publish_n(&store, "redeliver", "r", 2).await;
    let first = fetch_n(&store, "redeliver", "redeliver-c", 2).await;
    first[1].settle(Settle::Ack).await.expect("ack the second");
    // The first is dropped unsettled, as by a crashed gateway.
    let again = fetch_n(&store, "redeliver", "redeliver-c", 1).await;
    assert_eq!(ids(&again), ["r-1"]);
    assert_eq!(again[0].attempt, 2);
    assert_eq!(again[0].event.position, first[0].event.position);
    again[0].settle(Settle::Ack).await.expect("ack");
    let quiet = store
        .fetch("redeliver", "redeliver-c", 10, Duration::from_millis(1200))
        .await
        .expect("fetch");
    assert!(
        quiet.is_empty(),
        "acked events are not delivered again: {:?}",
        ids(&quiet)
    );
    assert_eq!(
        store
            .pending("redeliver", "redeliver-c")
            .await
            .expect("pending"),
        0
    );
}

/// `Settle::Retry(delay)` delivers the event again, not before the delay,
/// with the next attempt number; `in_progress` pushes `ack_wait` back.
pub async fn retry_delay(factory: &dyn StoreFactory) {
    let store = factory.open("retry").await;
    store
        .ensure_topic(&topic("retry"))
        .await
        .expect("ensure topic");
    let spec = consumer("retry", "retry-c", Duration::from_secs(30));
    store.ensure_consumer(&spec).await.expect("consumer");
    publish_n(&store, "retry", "t", 1).await;
    let first = fetch_n(&store, "retry", "retry-c", 1).await;
    first[0]
        .settle(Settle::Retry(Duration::from_secs(2)))
        .await
        .expect("retry");
    let early = store
        .fetch("retry", "retry-c", 10, Duration::ZERO)
        .await
        .expect("fetch");
    assert!(
        early.is_empty(),
        "not before the retry delay: {:?}",
        ids(&early)
    );
    let later = fetch_n(&store, "retry", "retry-c", 1).await;
    assert_eq!(ids(&later), ["t-1"]);
    assert_eq!(later[0].attempt, 2);
    later[0].settler.in_progress().await.expect("in progress");
    later[0].settle(Settle::Ack).await.expect("ack");
    assert_eq!(store.pending("retry", "retry-c").await.expect("pending"), 0);
}
