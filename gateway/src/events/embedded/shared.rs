//! What the async side of the embedded store and its writer thread share:
//! each ensured topic's spec and its signal (a tokio watch of the newest
//! position and a change counter), and each bucket's TTL. The writer
//! updates a signal only after the commit that changed the topic, so a
//! woken reader finds the change on disk.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;
use tokio::sync::watch;

use crate::config::model::events::TopicSpec;
use crate::events::store::StoreError;

/// A topic's state as readers see it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signal {
    /// The newest committed position.
    pub last: u64,
    /// Grows with every publish and replay (wakes waiting fetches).
    pub version: u64,
}

/// One ensured topic.
#[derive(Debug)]
pub struct TopicHandle {
    pub spec: ArcSwap<TopicSpec>,
    pub signal: watch::Sender<Signal>,
}

#[derive(Debug, Default)]
pub struct Shared {
    topics: RwLock<HashMap<String, Arc<TopicHandle>>>,
    buckets: RwLock<HashMap<String, u64>>,
}

impl Shared {
    /// The ensured topic `name`.
    pub fn topic(&self, name: &str) -> Result<Arc<TopicHandle>, StoreError> {
        let topics = self
            .topics
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        topics
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::UnknownTopic(name.to_owned()))
    }

    /// Registers (or updates the spec of) a topic.
    pub fn put_topic(&self, spec: Arc<TopicSpec>) {
        let mut topics = self
            .topics
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match topics.get(&spec.name) {
            Some(handle) => handle.spec.store(spec),
            None => {
                let handle = TopicHandle {
                    spec: ArcSwap::new(Arc::clone(&spec)),
                    signal: watch::Sender::new(Signal::default()),
                };
                topics.insert(spec.name.clone(), Arc::new(handle));
            }
        }
    }

    /// A commit made `last` the topic's newest position.
    pub fn advance(&self, name: &str, last: u64) {
        if let Ok(handle) = self.topic(name) {
            handle.signal.send_modify(|signal| {
                signal.last = signal.last.max(last);
                signal.version += 1;
            });
        }
    }

    /// Something other than a publish is there to fetch (a replay).
    pub fn wake(&self, name: &str) {
        if let Ok(handle) = self.topic(name) {
            handle.signal.send_modify(|signal| signal.version += 1);
        }
    }

    pub fn put_bucket(&self, name: &str, ttl_ms: u64) {
        let mut buckets = self
            .buckets
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        buckets.insert(name.to_owned(), ttl_ms);
    }

    /// The bucket's TTL in ms (0: none).
    pub fn bucket_ttl(&self, name: &str) -> Result<u64, StoreError> {
        let buckets = self
            .buckets
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        buckets
            .get(name)
            .copied()
            .ok_or_else(|| StoreError::Failed(format!("unknown bucket {name}")))
    }
}
