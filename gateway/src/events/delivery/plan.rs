//! Which durable consumers a set of subscriptions needs, pure: a `queue`
//! subscription is one consumer named after it (its backend's endpoints
//! share the work through the pool's balancer); a `fanout` subscription
//! is one consumer per endpoint, `NAME@ENDPOINT` (`host:port` plus any
//! path prefix), so each endpoint gets every event and keeps its own
//! cursor and dead letters.

use std::sync::Arc;
use std::time::Duration;

use http::Uri;

use crate::config::model::events::{DeliveryMode, SubscriptionSpec};
use crate::events::store::ConsumerSpec;

/// Added to a subscription's `timeout` and longest backoff to make its
/// consumers' `ack_wait`: an item neither settled nor reported in progress
/// within it is handed out again (the gateway stopped mid-delivery).
pub const ACK_WAIT_MARGIN: Duration = Duration::from_secs(5);

/// One consumer a subscription needs.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedConsumer {
    pub name: String,
    pub subscription: Arc<SubscriptionSpec>,
    /// Fanout: the endpoint's index in the backend's `urls` and its id.
    pub endpoint: Option<(usize, String)>,
}

impl PlannedConsumer {
    /// The durable consumer in the store.
    pub fn consumer_spec(&self) -> ConsumerSpec {
        let spec = &self.subscription;
        ConsumerSpec {
            topic: spec.topic.name.clone(),
            name: self.name.clone(),
            start: spec.start,
            ack_wait: ack_wait(spec),
        }
    }
}

/// `timeout` + the longest backoff + [`ACK_WAIT_MARGIN`].
pub fn ack_wait(spec: &SubscriptionSpec) -> Duration {
    spec.timeout
        .saturating_add(spec.backoff.max)
        .saturating_add(ACK_WAIT_MARGIN)
}

/// Every consumer of `subscriptions`, in their order.
pub fn plan(subscriptions: &[Arc<SubscriptionSpec>]) -> Vec<PlannedConsumer> {
    subscriptions.iter().flat_map(consumers_of).collect()
}

/// The consumers of one subscription.
pub fn consumers_of(spec: &Arc<SubscriptionSpec>) -> Vec<PlannedConsumer> {
    match spec.mode {
        DeliveryMode::Queue => vec![PlannedConsumer {
            name: spec.name.clone(),
            subscription: Arc::clone(spec),
            endpoint: None,
        }],
        DeliveryMode::Fanout => spec
            .backend
            .urls
            .iter()
            .enumerate()
            .map(|(index, url)| {
                let id = endpoint_id(url);
                PlannedConsumer {
                    name: format!("{}@{id}", spec.name),
                    subscription: Arc::clone(spec),
                    endpoint: Some((index, id)),
                }
            })
            .collect(),
    }
}

/// `host:port` plus the path prefix, if any: stable while the URL is.
pub fn endpoint_id(url: &Uri) -> String {
    let authority = url.authority().map(|a| a.as_str()).unwrap_or_default();
    let prefix = url.path().trim_end_matches('/');
    format!("{authority}{prefix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_ids_are_authority_and_prefix() {
        assert_eq!(
            endpoint_id(&"http://127.0.0.1:7201".parse().unwrap()),
            "127.0.0.1:7201"
        );
        assert_eq!(
            endpoint_id(&"http://a:1/hooks/".parse().unwrap()),
            "a:1/hooks"
        );
    }
}
