//! The event store conformance suite (`tests::event_store_suite`) against
//! the NATS JetStream store on a real `nats-server -js` (one per test, on
//! a free port with a temporary store directory). Each suite scope is its
//! own `stream_prefix`; "reopen" connects again to the same server and
//! prefix. Skipped, saying so, without nats-server (CI requires it).

use std::time::Duration;

use async_trait::async_trait;
use gateway::config::model::events::NatsStore;
use gateway::events::nats;
use gateway::events::store::SharedStore;
use tests::event_store_suite as suite;
use tests::nats_server::NatsServer;

struct Nats {
    server: NatsServer,
}

#[async_trait]
impl suite::StoreFactory for Nats {
    async fn open(&self, scope: &str) -> SharedStore {
        let settings = NatsStore {
            urls: vec![self.server.url()],
            stream_prefix: format!(
                "SUITE_{}",
                scope.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
            ),
            request_timeout: Duration::from_secs(2),
            outbox_dir: std::env::temp_dir(),
        };
        nats::open(&settings).await.expect("the NATS store opens")
    }
}

async fn nats(test: &str) -> Option<Nats> {
    Some(Nats {
        server: NatsServer::start_or_skip(test).await?,
    })
}

macro_rules! suite_tests {
    ($($name:ident => $function:ident;)*) => {$(
        #[tokio::test]
        async fn $name() {
            if let Some(factory) = nats(stringify!($name)).await {
                suite::$function(&factory).await;
            }
        }
    )*};
}

suite_tests! {
    nats_store_durable_across_reopen => durable_across_reopen;
    nats_store_positions_and_read => positions_and_read;
    nats_store_publish_many_in_order => publish_many_in_order;
    nats_store_dedupe_window => dedupe_window;
    nats_store_wait_beyond => wait_beyond;
    nats_store_consumer_start_and_remove => consumer_start_and_remove;
    nats_store_redelivery_after_ack_wait => redelivery_after_ack_wait;
    nats_store_retry_delay => retry_delay;
    nats_store_dead_letter_replay_purge => dead_letter_replay_purge;
    nats_store_retention_max_events => retention_max_events;
    nats_store_retention_max_age => retention_max_age;
    nats_store_kv_buckets => kv_buckets;
}

/// Acks come back through the store's one reply subscription: under
/// publishers on two threads at once, none may reach another's publish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_store_concurrent_publishes_get_their_own_positions() {
    if let Some(factory) = nats("nats_store_concurrent_publishes_get_their_own_positions").await {
        suite::concurrent_publishes_get_their_own_positions(&factory).await;
    }
}
