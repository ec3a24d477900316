//! The request-path series, resolved once and then reached without a
//! lock: the label lookup of a prometheus-client `Family` takes a lock, so
//! each route (and each upstream endpoint) gets a table of histogram
//! handles, one slot per method and status class, filled on first use.
//! The tables live in an `ArcSwap` map that is only written when a new
//! route or endpoint appears, so a request does an atomic load, one hash
//! lookup and relaxed `fetch_add`s. The keys are names from the config
//! (never from requests), so the tables hash with `foldhash`'s fast
//! hasher rather than SipHash, a measurable part of the lookup.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use arc_swap::ArcSwap;
use http::{Method, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;

use super::histogram::DurationHistogram;
use super::labels::{METHOD_SLOTS, STATUS_CLASSES, method_index, method_label, status_class_index};
use crate::observe::AttemptOutcome;

/// `http_server_request_duration_seconds` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ServerLabels {
    pub route: Arc<str>,
    pub http_request_method: &'static str,
    pub status_class: &'static str,
}

/// `http_client_request_duration_seconds` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ClientLabels {
    pub backend: Arc<str>,
    pub endpoint: Arc<str>,
    pub status_class: &'static str,
    /// Empty when a response head arrived.
    pub error_type: &'static str,
}

/// The tables' hasher (seeded per process; without foldhash's `std`
/// feature, which would rebuild every crate that shares its hashbrown).
type FastHash = foldhash::fast::RandomState;

/// A map written rarely and read on every request.
#[derive(Debug)]
pub(super) struct ReadMostly<K, V> {
    map: ArcSwap<HashMap<K, Arc<V>, FastHash>>,
    writing: Mutex<()>,
}

impl<K, V> Default for ReadMostly<K, V> {
    fn default() -> Self {
        Self {
            map: ArcSwap::from_pointee(HashMap::default()),
            writing: Mutex::new(()),
        }
    }
}

impl<K: Hash + Eq + Clone, V> ReadMostly<K, V> {
    /// The value for `key`, made by `make` the first time.
    pub(super) fn get_or_insert<Q>(&self, key: &Q, make: impl FnOnce() -> (K, V)) -> Arc<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(found) = self.map.load().get(key) {
            return Arc::clone(found);
        }
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = self.map.load().get(key) {
            return Arc::clone(found);
        }
        let (key, value) = make();
        let value = Arc::new(value);
        let mut next = HashMap::clone(&self.map.load());
        next.insert(key, Arc::clone(&value));
        self.map.store(Arc::new(next));
        value
    }

    /// Runs `read` on the value for `key` (made by `make` the first
    /// time), borrowed from the current map: the request path then never
    /// touches the value's reference count, a cache line every worker
    /// would otherwise write.
    pub(super) fn with<Q, R>(
        &self,
        key: &Q,
        make: impl FnOnce() -> (K, V),
        read: impl FnOnce(&V) -> R,
    ) -> R
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(found) = self.map.load().get(key) {
            return read(found);
        }
        read(&self.get_or_insert(key, make))
    }

    /// How many entries the map holds.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.map.load().len()
    }

    /// As [`Self::get_or_insert`], but the map never grows past `cap`
    /// entries: a new key past it gets `None`. Once full, a new key costs
    /// an atomic load and a hash lookup, never the writers' lock.
    pub(super) fn get_or_insert_bounded<Q>(
        &self,
        key: &Q,
        cap: usize,
        make: impl FnOnce() -> (K, V),
    ) -> Option<Arc<V>>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let map = self.map.load();
        if let Some(found) = map.get(key) {
            return Some(Arc::clone(found));
        }
        if map.len() >= cap {
            return None;
        }
        drop(map);
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let map = self.map.load();
        if let Some(found) = map.get(key) {
            return Some(Arc::clone(found));
        }
        if map.len() >= cap {
            return None;
        }
        let (key, value) = make();
        let value = Arc::new(value);
        let mut next = HashMap::clone(&map);
        next.insert(key, Arc::clone(&value));
        self.map.store(Arc::new(next));
        Some(value)
    }
}

/// One route's server series: a slot per method and status class.
#[derive(Debug)]
pub(super) struct RouteSeries {
    route: Arc<str>,
    slots: [[OnceLock<DurationHistogram>; STATUS_CLASSES.len()]; METHOD_SLOTS],
}

impl RouteSeries {
    pub(super) fn new(route: Arc<str>) -> Self {
        Self {
            route,
            slots: Default::default(),
        }
    }

    pub(super) fn histogram(
        &self,
        family: &Family<ServerLabels, DurationHistogram>,
        method: &Method,
        status: StatusCode,
    ) -> &DurationHistogram {
        let (method, class) = (method_index(method), status_class_index(status));
        self.slots[method][class].get_or_init(|| {
            family.get_or_create_owned(&ServerLabels {
                route: Arc::clone(&self.route),
                http_request_method: method_label(method),
                status_class: STATUS_CLASSES[class],
            })
        })
    }
}

/// How an attempt that got no response is labelled (`error_type`).
const ERROR_TYPES: [&str; 3] = ["connect_error", "connection_error", "abandoned"];

/// One endpoint's client series: a slot per status class and per error.
#[derive(Debug)]
pub(super) struct EndpointSeries {
    backend: Arc<str>,
    endpoint: Arc<str>,
    slots: [OnceLock<DurationHistogram>; STATUS_CLASSES.len() + ERROR_TYPES.len()],
}

impl EndpointSeries {
    pub(super) fn new(backend: Arc<str>, endpoint: Arc<str>) -> Self {
        Self {
            backend,
            endpoint,
            slots: Default::default(),
        }
    }

    pub(super) fn histogram(
        &self,
        family: &Family<ClientLabels, DurationHistogram>,
        outcome: AttemptOutcome,
    ) -> &DurationHistogram {
        let (slot, status_class, error_type) = match outcome {
            AttemptOutcome::Response(status) => {
                let class = status_class_index(status);
                (class, STATUS_CLASSES[class], "")
            }
            AttemptOutcome::ConnectFailed => (STATUS_CLASSES.len(), "", ERROR_TYPES[0]),
            AttemptOutcome::Failed => (STATUS_CLASSES.len() + 1, "", ERROR_TYPES[1]),
            AttemptOutcome::Abandoned => (STATUS_CLASSES.len() + 2, "", ERROR_TYPES[2]),
        };
        self.slots[slot].get_or_init(|| {
            family.get_or_create_owned(&ClientLabels {
                backend: Arc::clone(&self.backend),
                endpoint: Arc::clone(&self.endpoint),
                status_class,
                error_type,
            })
        })
    }
}
