//! [`DeliveryEngine`]: the delivery workers of every subscription, on the
//! control runtime, following the snapshot. Each reload's subscriptions
//! are planned into consumers ([`plan`]); a consumer whose subscription
//! (or backend pool) changed is restarted under the same name, after the
//! old worker stopped, so it keeps its cursor; a new one is created from
//! its `start`; a removed one stops and its durable consumer (cursor and
//! dead letters) is removed from the store.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::consumer::{ConsumerRun, run_consumer};
use super::plan::{self, PlannedConsumer};
use super::subscriber::SubscriberTarget;
use super::verdict::RetryRule;
use crate::config::model::events::SubscriptionSpec;
use crate::events::store::SharedStore;
use crate::observe::metrics::Metrics;
use crate::upstream::{UpstreamPool, Upstreams};

/// Pause between attempts to create a consumer the store refused.
const ENSURE_RETRY: Duration = Duration::from_secs(1);

/// The running delivery workers.
#[derive(Debug)]
pub struct DeliveryEngine {
    pub(super) store: SharedStore,
    pub(super) metrics: Option<Arc<Metrics>>,
    pub(super) state: Mutex<EngineState>,
}

#[derive(Debug, Default)]
pub(super) struct EngineState {
    /// The current subscriptions, in config order (for the admin API).
    pub(super) subscriptions: Vec<Arc<SubscriptionSpec>>,
    consumers: BTreeMap<String, RunningConsumer>,
}

#[derive(Debug)]
struct RunningConsumer {
    planned: PlannedConsumer,
    pool: Arc<UpstreamPool>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl DeliveryEngine {
    pub fn new(store: SharedStore, metrics: Option<Arc<Metrics>>) -> Arc<Self> {
        Arc::new(Self {
            store,
            metrics,
            state: Mutex::default(),
        })
    }

    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    /// Starts, restarts and stops workers so that `subscriptions` (with
    /// their pools from `upstreams`) are delivered. Call on the control
    /// runtime: the workers are spawned on the current one.
    pub fn apply(&self, subscriptions: &[Arc<SubscriptionSpec>], upstreams: &Upstreams) {
        let pools: BTreeMap<&str, &Arc<UpstreamPool>> = upstreams.iter().collect();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut previous = std::mem::take(&mut state.consumers);
        for planned in plan::plan(subscriptions) {
            let Some(pool) = pools.get(planned.subscription.backend.name.as_str()) else {
                tracing::error!(subscription = %planned.subscription.name, backend = %planned.subscription.backend.name, "no pool for the subscription's backend; not delivering");
                continue;
            };
            let old = previous.remove(&planned.name);
            let unchanged = old.as_ref().is_some_and(|old| {
                old.planned == planned && Arc::ptr_eq(&old.pool, pool) && !old.task.is_finished()
            });
            let running = match old {
                Some(old) if unchanged => old,
                old => {
                    let after = old.map(|old| {
                        old.stop.cancel();
                        old.task
                    });
                    self.spawn(planned.clone(), Arc::clone(pool), after)
                }
            };
            state.consumers.insert(planned.name, running);
        }
        for (name, removed) in previous {
            removed.stop.cancel();
            let store = Arc::clone(&self.store);
            let topic = removed.planned.subscription.topic.name.clone();
            tokio::spawn(async move {
                let _ = removed.task.await;
                match store.remove_consumer(&topic, &name).await {
                    Ok(()) => {
                        tracing::info!(consumer = %name, "subscription removed: its consumer and dead letters are gone")
                    }
                    Err(error) => {
                        tracing::warn!(consumer = %name, %error, "removing a consumer failed")
                    }
                }
            });
        }
        if let Some(metrics) = &self.metrics {
            for gone in state
                .subscriptions
                .iter()
                .filter(|old| !subscriptions.iter().any(|new| new.name == old.name))
            {
                metrics.events().forget_subscription(&gone.name);
            }
        }
        state.subscriptions = subscriptions.to_vec();
    }

    fn spawn(
        &self,
        planned: PlannedConsumer,
        pool: Arc<UpstreamPool>,
        after: Option<JoinHandle<()>>,
    ) -> RunningConsumer {
        let stop = CancellationToken::new();
        let target = SubscriberTarget::new(
            Arc::clone(&planned.subscription),
            Arc::clone(&pool),
            planned.endpoint.as_ref().map(|(index, _)| *index),
            self.metrics.clone(),
        );
        let task = tokio::spawn(consume(
            Arc::clone(&self.store),
            planned.clone(),
            Arc::new(target),
            after,
            stop.clone(),
        ));
        RunningConsumer {
            planned,
            pool,
            stop,
            task,
        }
    }

    /// Stops every worker: no new fetch; attempts in flight finish (each
    /// is bounded by its subscription's `timeout`) and settle; the rest is
    /// left unsettled for the store to hand out again.
    pub async fn stop(&self) {
        let consumers = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::take(&mut state.consumers)
        };
        for consumer in consumers.values() {
            consumer.stop.cancel();
        }
        for (name, consumer) in consumers {
            if let Err(error) = consumer.task.await {
                tracing::error!(consumer = %name, %error, "a delivery worker failed");
            }
        }
    }

    /// The names of the running consumers (tests, logs).
    pub fn consumer_names(&self) -> Vec<String> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.consumers.keys().cloned().collect()
    }
}

/// One consumer's worker: waits for the one it replaces, makes sure the
/// durable consumer exists, then runs it until `stop`.
async fn consume(
    store: SharedStore,
    planned: PlannedConsumer,
    target: Arc<SubscriberTarget>,
    after: Option<JoinHandle<()>>,
    stop: CancellationToken,
) {
    if let Some(previous) = after {
        let _ = previous.await;
    }
    let spec = planned.consumer_spec();
    while let Err(error) = store.ensure_consumer(&spec).await {
        tracing::warn!(consumer = %spec.name, topic = %spec.topic, %error, "creating the consumer failed; trying again");
        tokio::select! {
            () = tokio::time::sleep(ENSURE_RETRY) => {}
            () = stop.cancelled() => return,
        }
    }
    let subscription = &planned.subscription;
    let run = ConsumerRun {
        topic: spec.topic,
        consumer: spec.name,
        max_in_flight: subscription.max_in_flight,
        retry: RetryRule {
            backoff: subscription.backoff,
            max_attempts: subscription.max_attempts,
        },
        keep_alive: spec.ack_wait / 2,
    };
    tracing::debug!(consumer = %run.consumer, topic = %run.topic, "delivery worker started");
    run_consumer(store, run, target, stop).await;
}
