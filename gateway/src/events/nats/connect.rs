//! The NATS connection: one client, reconnecting without limit, every
//! request bounded by `request_timeout`; `open` fails (rather than
//! waiting) when no server answers or JetStream is not enabled.

use std::time::Duration;

use async_nats::jetstream::{self, ContextBuilder};
use async_nats::{ConnectOptions, Event, ServerAddr};

use super::ack_inbox::MAX_ACKS_IN_FLIGHT;
use crate::config::model::events::NatsStore;
use crate::events::store::StoreError;

/// Longest pause between two reconnect attempts: a restarted server is
/// found again within this (plus `request_timeout` for the connect).
pub const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(1);

pub async fn connect(settings: &NatsStore) -> Result<jetstream::Context, StoreError> {
    let servers = server_addrs(&settings.urls)?;
    let timeout = settings.request_timeout;
    let options = ConnectOptions::new()
        .name("gateway")
        .connection_timeout(timeout)
        .request_timeout(Some(timeout))
        .max_reconnects(None)
        .reconnect_delay_callback(reconnect_delay)
        .event_callback(|event| async move { log_event(&event) });
    let client = match tokio::time::timeout(timeout, options.connect(servers)).await {
        Ok(Ok(client)) => client,
        Ok(Err(error)) => {
            return Err(StoreError::Unavailable(format!(
                "NATS connect to {:?}: {error}",
                settings.urls
            )));
        }
        Err(_) => {
            return Err(StoreError::Unavailable(format!(
                "NATS connect to {:?}: no answer within {timeout:?}",
                settings.urls
            )));
        }
    };
    let js = ContextBuilder::new()
        .timeout(timeout)
        .max_ack_inflight(MAX_ACKS_IN_FLIGHT)
        .backpressure_on_inflight(true)
        .build(client);
    // Whether JetStream answers is found by the store's first stream
    // request (`ensure_own_streams`).
    Ok(js)
}

fn server_addrs(urls: &[String]) -> Result<Vec<ServerAddr>, StoreError> {
    if urls.is_empty() {
        return Err(StoreError::Failed("NATS: no server url".to_owned()));
    }
    urls.iter()
        .map(|url| {
            url.parse::<ServerAddr>()
                .map_err(|error| StoreError::Failed(format!("NATS url {url:?}: {error}")))
        })
        .collect()
}

/// 0 ms, then 100 ms more per attempt, at most [`MAX_RECONNECT_DELAY`].
fn reconnect_delay(attempts: usize) -> Duration {
    let steps = u32::try_from(attempts.saturating_sub(1)).unwrap_or(u32::MAX);
    (Duration::from_millis(100).saturating_mul(steps)).min(MAX_RECONNECT_DELAY)
}

fn log_event(event: &Event) {
    match event {
        Event::Connected => tracing::info!("event store: NATS connected"),
        Event::Disconnected => tracing::warn!("event store: NATS disconnected, reconnecting"),
        Event::LameDuckMode => tracing::warn!("event store: NATS server entering lame duck mode"),
        other => tracing::warn!("event store: NATS {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delay_grows_then_caps() {
        assert_eq!(reconnect_delay(0), Duration::ZERO);
        assert_eq!(reconnect_delay(1), Duration::ZERO);
        assert_eq!(reconnect_delay(3), Duration::from_millis(200));
        assert_eq!(reconnect_delay(1000), MAX_RECONNECT_DELAY);
    }

    #[test]
    fn bad_urls_are_refused() {
        assert!(server_addrs(&[]).is_err());
        assert!(server_addrs(&["nats://127.0.0.1:4222".to_owned()]).is_ok());
        assert!(server_addrs(&["http://[bad".to_owned()]).is_err());
    }
}
