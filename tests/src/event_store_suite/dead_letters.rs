//! Dead letters: the original event, the last error and the attempt
//! count are kept; replay delivers the same event (same `id`) again to
//! that consumer only, starting at attempt 1; purge deletes.

use std::time::Duration;

use gateway::events::store::{DeadLetterSelection, Settle};

use super::{StoreFactory, consumer, fetch_n, ids, publish_n, topic};

pub async fn dead_letter_replay_purge(factory: &dyn StoreFactory) {
    let store = factory.open("dead").await;
    store
        .ensure_topic(&topic("dead"))
        .await
        .expect("ensure topic");
    let failing = consumer("dead", "dead-failing", Duration::from_secs(30));
    let other = consumer("dead", "dead-other", Duration::from_secs(30));
    store.ensure_consumer(&failing).await.expect("consumer");
    store.ensure_consumer(&other).await.expect("other consumer");
    publish_n(&store, "dead", "x", 3).await;
    let first = fetch_n(&store, "dead", "dead-failing", 3).await;
    first[0]
        .settle(Settle::Retry(Duration::ZERO))
        .await
        .expect("retry");
    let second = fetch_n(&store, "dead", "dead-failing", 1).await;
    assert_eq!(second[0].attempt, 2);
    second[0]
        .settle(Settle::DeadLetter("503 after 2 attempts".into()))
        .await
        .expect("dead");
    first[1]
        .settle(Settle::DeadLetter("400 bad order".into()))
        .await
        .expect("dead");
    first[2]
        .settle(Settle::DeadLetter("400 bad order".into()))
        .await
        .expect("dead");
    let dead = store
        .dead_letters("dead", "dead-failing", 10)
        .await
        .expect("dead letters");
    let got: Vec<_> = dead
        .iter()
        .map(|d| (d.event.event.id.as_str(), d.attempts, d.last_error.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("x-1", 2, "503 after 2 attempts"),
            ("x-2", 1, "400 bad order"),
            ("x-3", 1, "400 bad order")
        ]
    );
    assert_eq!(
        *dead[0].event.event, *first[0].event.event,
        "the original event is kept"
    );
    assert!(
        store
            .dead_letters("dead", "dead-other", 10)
            .await
            .expect("other")
            .is_empty()
    );
    assert_eq!(
        store
            .dead_letters("dead", "dead-failing", 2)
            .await
            .expect("limit")
            .len(),
        2
    );

    let one = store
        .replay_dead_letters(
            "dead",
            "dead-failing",
            DeadLetterSelection::One(dead[0].sequence),
        )
        .await
        .expect("replay one");
    assert_eq!(one, 1);
    let replayed = fetch_n(&store, "dead", "dead-failing", 1).await;
    assert_eq!(ids(&replayed), ["x-1"], "the original id");
    assert_eq!(replayed[0].attempt, 1, "a replay starts again at attempt 1");
    assert_eq!(replayed[0].event.position, dead[0].event.position);
    replayed[0]
        .settle(Settle::Ack)
        .await
        .expect("ack the replay");

    let others = fetch_n(&store, "dead", "dead-other", 3).await;
    assert_eq!(
        ids(&others),
        ["x-1", "x-2", "x-3"],
        "the other consumer is untouched"
    );
    for delivery in &others {
        delivery.settle(Settle::Ack).await.expect("ack");
    }
    let quiet = store
        .fetch("dead", "dead-other", 10, Duration::from_millis(300))
        .await
        .expect("fetch");
    assert!(
        quiet.is_empty(),
        "a replay goes to its consumer only: {:?}",
        ids(&quiet)
    );

    let purged = store
        .purge_dead_letters(
            "dead",
            "dead-failing",
            DeadLetterSelection::One(dead[1].sequence),
        )
        .await
        .expect("purge one");
    assert_eq!(purged, 1);
    let all = store
        .replay_dead_letters("dead", "dead-failing", DeadLetterSelection::All)
        .await
        .expect("replay all");
    assert_eq!(all, 1, "only x-3 is left to replay");
    let last = fetch_n(&store, "dead", "dead-failing", 1).await;
    assert_eq!(ids(&last), ["x-3"]);
    last[0].settle(Settle::Ack).await.expect("ack");
    store
        .purge_dead_letters("dead", "dead-failing", DeadLetterSelection::All)
        .await
        .expect("purge all");
    assert!(
        store
            .dead_letters("dead", "dead-failing", 10)
            .await
            .expect("empty")
            .is_empty()
    );
}
