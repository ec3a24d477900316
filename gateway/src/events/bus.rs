//! The event bus at run time: the store, opened once at start from
//! `events.store` and kept across reloads (a reload that changes the store
//! is refused by `config::check_reload`), reachable from every snapshot as
//! `Snapshot.events`.
//!
//! The other parts of the event bus (publish routes, delivery workers, the
//! emit outbox, async routes, the admin dead-letter API) find the store
//! here, and their current settings in the snapshot's `config.events`.

use std::sync::Arc;

use super::embedded::EmbeddedEventStore;
use super::outbox::Outbox;
use super::store::{SharedStore, StoreError};
use crate::config::model::events::{EventsSettings, NatsStore, StoreSettings};
use crate::observe::metrics::Metrics;
use crate::observe::metrics::events::PublishResult;

/// The running event bus.
#[derive(Debug)]
pub struct EventBus {
    store: SharedStore,
    /// Where `emit:` keeps the events the store did not take.
    outbox: Arc<Outbox>,
    /// `events:` as it was when the store was opened (the store settings
    /// never change while the bus runs; topics and subscriptions follow
    /// the snapshot's config).
    settings: EventsSettings,
    metrics: Option<Arc<Metrics>>,
    /// Open topic streams (`GET` on publish routes), kept across reloads.
    open_streams: super::stream::limit::OpenStreams,
}

impl EventBus {
    /// Opens the store `settings.store` names and the emit outbox, and
    /// ensures every topic.
    pub async fn open(
        settings: &EventsSettings,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<Arc<Self>, StoreError> {
        let store = open_store(&settings.store).await?;
        let outbox = Outbox::open(outbox_dir(&settings.store)).await?;
        if !outbox.is_empty() {
            tracing::info!(path = %outbox.path().display(), waiting = outbox.len(), "the emit outbox holds events from an earlier run; relaying them");
        }
        let bus = Self::with_store(store, outbox, settings.clone(), metrics);
        bus.ensure_topics(settings).await?;
        Ok(Arc::new(bus))
    }

    /// A bus over an already opened store and outbox (tests, benchmarks).
    pub fn with_store(
        store: SharedStore,
        outbox: Arc<Outbox>,
        settings: EventsSettings,
        metrics: Option<Arc<Metrics>>,
    ) -> Self {
        Self {
            store,
            outbox,
            settings,
            metrics,
            open_streams: Default::default(),
        }
    }

    /// The open topic streams, counted against each topic's `max_streams`.
    pub fn open_streams(&self) -> &super::stream::limit::OpenStreams {
        &self.open_streams
    }

    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    pub fn metrics(&self) -> Option<&Arc<Metrics>> {
        self.metrics.as_ref()
    }

    /// Counts one publish (publish routes, emit) when metrics are on.
    pub fn count_publish(&self, topic: &str, result: PublishResult) {
        if let Some(metrics) = &self.metrics {
            metrics.events().published(topic, result);
        }
    }

    /// `events:` as at open; the current topics and subscriptions are the
    /// snapshot's `config.events`.
    pub fn settings(&self) -> &EventsSettings {
        &self.settings
    }

    pub fn store_settings(&self) -> &StoreSettings {
        &self.settings.store
    }

    /// Creates every topic of `settings`, or updates its retention and
    /// dedupe window (at start, and on each reload before the new
    /// snapshot is built).
    pub async fn ensure_topics(&self, settings: &EventsSettings) -> Result<(), StoreError> {
        for topic in settings.topics.values() {
            self.store.ensure_topic(topic).await?;
        }
        Ok(())
    }
}

/// The outbox's directory: the embedded store's `data_dir`, or the NATS
/// store's `outbox_dir`.
fn outbox_dir(settings: &StoreSettings) -> &std::path::Path {
    match settings {
        StoreSettings::Embedded(embedded) => &embedded.data_dir,
        StoreSettings::Nats(nats) => &nats.outbox_dir,
    }
}

async fn open_store(settings: &StoreSettings) -> Result<SharedStore, StoreError> {
    match settings {
        StoreSettings::Embedded(embedded) => {
            let store = EmbeddedEventStore::open(embedded).await?;
            tracing::info!(path = %store.path().display(), "event store opened (embedded)");
            Ok(Arc::new(store))
        }
        StoreSettings::Nats(nats) => open_nats(nats).await,
    }
}

/// Opens the NATS JetStream store (`crate::events::nats`).
async fn open_nats(settings: &NatsStore) -> Result<SharedStore, StoreError> {
    let store = super::nats::open(settings).await?;
    tracing::info!(urls = ?settings.urls, prefix = %settings.stream_prefix, "event store opened (nats)");
    Ok(store)
}
