//! What a subscriber received and did: one [`RecordedDelivery`] per
//! delivery (the event's attributes from the `ce-*` headers, the attempt
//! the gateway numbered, every header, the arrival time and the status
//! answered), inventory reservations, and the faults in force. Tests
//! await changes through a watch channel.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use serde::Serialize;
use tokio::sync::watch;

use super::faults::SubscriberFaults;

/// Most deliveries kept (the oldest go first).
pub const DELIVERY_CAPACITY: usize = 10_000;

/// One delivery as the subscriber saw it.
#[derive(Clone, Debug, Serialize)]
pub struct RecordedDelivery {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub source: String,
    pub subject: Option<String>,
    /// `x-gateway-delivery-attempt` (0 when absent).
    pub attempt: u32,
    pub traceparent: Option<String>,
    pub headers: BTreeMap<String, String>,
    /// The body as JSON (a string of its lossy text when it is not JSON).
    pub body: serde_json::Value,
    /// The body's exact bytes (binary data arrives as it was published).
    #[serde(skip)]
    pub raw_body: bytes::Bytes,
    /// Wall-clock arrival, RFC 3339 with microseconds.
    pub received_at: String,
    /// Milliseconds since the subscriber started (monotonic).
    pub received_ms: f64,
    /// What it answered.
    pub status: u16,
    /// An event id seen (and handled) before: a redelivery.
    pub duplicate: bool,
    /// The type is not one this subscriber acts on (acknowledged anyway).
    pub ignored: bool,
    #[serde(skip)]
    pub arrived: Option<Instant>,
}

/// A stock reservation made by `inventory` for an `OrderPlaced`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Reservation {
    pub event_id: String,
    pub order_id: Option<String>,
    pub items: serde_json::Value,
}

#[derive(Debug, Default)]
struct Inner {
    deliveries: Vec<RecordedDelivery>,
    handled: std::collections::HashSet<String>,
    reservations: Vec<Reservation>,
    faults: SubscriberFaults,
    /// `PaymentCompleted` publishes and the status each got (0: no answer).
    published: Vec<(String, u16)>,
}

/// One subscriber's state.
#[derive(Debug)]
pub(crate) struct SubscriberState {
    inner: Mutex<Inner>,
    started: Instant,
    changes: watch::Sender<u64>,
}

impl SubscriberState {
    pub(crate) fn new(faults: SubscriberFaults) -> Self {
        Self {
            inner: Mutex::new(Inner {
                faults,
                ..Inner::default()
            }),
            started: Instant::now(),
            changes: watch::channel(0).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    pub(crate) fn watch(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    pub(crate) fn millis_since_start(&self, at: Instant) -> f64 {
        at.duration_since(self.started).as_secs_f64() * 1000.0
    }

    pub(crate) fn now_rfc3339() -> String {
        chrono::DateTime::<chrono::Utc>::from(SystemTime::now())
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    }

    /// Takes the fault decision for one delivery: `Some(status)` to fail.
    pub(crate) fn fault_for_next(&self) -> (Option<http::StatusCode>, std::time::Duration) {
        let mut inner = self.lock();
        let delay = inner.faults.delay();
        let fail = inner.faults.take_failure();
        (fail.then(|| inner.faults.failure_status()), delay)
    }

    /// Whether `id` was handled before; marks it handled.
    pub(crate) fn first_time(&self, id: &str) -> bool {
        self.lock().handled.insert(id.to_owned())
    }

    pub(crate) fn record(&self, delivery: RecordedDelivery) {
        {
            let mut inner = self.lock();
            if inner.deliveries.len() >= DELIVERY_CAPACITY {
                inner.deliveries.remove(0);
            }
            inner.deliveries.push(delivery);
        }
        self.changed();
    }

    pub(crate) fn reserve(&self, reservation: Reservation) {
        self.lock().reservations.push(reservation);
        self.changed();
    }

    pub(crate) fn note_published(&self, event_id: String, status: u16) {
        self.lock().published.push((event_id, status));
        self.changed();
    }

    pub(crate) fn deliveries(&self) -> Vec<RecordedDelivery> {
        self.lock().deliveries.clone()
    }

    pub(crate) fn reservations(&self) -> Vec<Reservation> {
        self.lock().reservations.clone()
    }

    pub(crate) fn published(&self) -> Vec<(String, u16)> {
        self.lock().published.clone()
    }

    pub(crate) fn faults(&self) -> SubscriberFaults {
        self.lock().faults.clone()
    }

    pub(crate) fn set_faults(&self, faults: SubscriberFaults) {
        self.lock().faults = faults;
        self.changed();
    }

    /// Forgets deliveries, handled ids, reservations and publishes.
    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        let faults = std::mem::take(&mut inner.faults);
        *inner = Inner {
            faults,
            ..Inner::default()
        };
        drop(inner);
        self.changed();
    }
}
