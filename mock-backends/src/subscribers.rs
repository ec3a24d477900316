//! The seed's event subscribers: `inventory` (reserves stock on
//! `OrderPlaced`), `notification` (`OrderPlaced`, `OrderShipped`) and
//! `payment-processor` (on `OrderPlaced`, publishes `PaymentCompleted`
//! back through the gateway's publish route). The gateway delivers to
//! them over HTTP in the CloudEvents binary binding (`POST /events`).
//!
//! Each records every delivery (event id, type, attempt, headers with
//! `traceparent`, arrival time) and supports fault injection (fail the
//! next N deliveries or all of them with a status, delay each), through
//! its [`SubscriberHandle`] or its HTTP control API (`/control/...`, see
//! docs/mock-backends.md#event-subscribers).

mod faults;
mod http;
mod log;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;

pub use faults::SubscriberFaults;
pub use http::{SubscriberHandle, start_subscriber};
pub use log::{RecordedDelivery, Reservation};

/// One of the three subscribers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubscriberKind {
    Inventory,
    Notification,
    PaymentProcessor,
}

impl SubscriberKind {
    pub const ALL: [SubscriberKind; 3] = [
        SubscriberKind::Inventory,
        SubscriberKind::Notification,
        SubscriberKind::PaymentProcessor,
    ];

    /// The service name (logs, the address listing).
    pub fn name(self) -> &'static str {
        match self {
            SubscriberKind::Inventory => "inventory",
            SubscriberKind::Notification => "notification",
            SubscriberKind::PaymentProcessor => "payment-processor",
        }
    }

    /// The event types it acts on; others are acknowledged and recorded
    /// as ignored.
    pub fn handles(self) -> &'static [&'static str] {
        match self {
            SubscriberKind::Inventory | SubscriberKind::PaymentProcessor => &["OrderPlaced"],
            SubscriberKind::Notification => &["OrderPlaced", "OrderShipped"],
        }
    }

    /// The fixed default port (the default routes.yaml's backends).
    pub fn default_port(self) -> u16 {
        match self {
            SubscriberKind::Inventory => 7121,
            SubscriberKind::Notification => 7122,
            SubscriberKind::PaymentProcessor => 7123,
        }
    }

    pub fn default_addr(self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.default_port()))
    }
}

/// How a subscriber starts.
#[derive(Clone, Debug, Default)]
pub struct SubscriberOptions {
    /// Where `payment-processor` POSTs `PaymentCompleted` (the gateway's
    /// publish route for topic `payments`, e.g.
    /// `http://127.0.0.1:8080/v1/events/payments`); `None`: it only
    /// records.
    pub publish_url: Option<String>,
    pub faults: SubscriberFaults,
}

/// The three subscribers, started together (the demo).
#[derive(Debug)]
pub struct Subscribers {
    pub inventory: SubscriberHandle,
    pub notification: SubscriberHandle,
    pub payment_processor: SubscriberHandle,
}

impl Subscribers {
    /// Starts each on `addr_of(kind)`.
    pub async fn start(
        addr_of: impl Fn(SubscriberKind) -> SocketAddr,
        options: &SubscriberOptions,
    ) -> Result<Subscribers, crate::MockError> {
        Ok(Subscribers {
            inventory: start_subscriber(
                SubscriberKind::Inventory,
                addr_of(SubscriberKind::Inventory),
                options.clone(),
            )
            .await?,
            notification: start_subscriber(
                SubscriberKind::Notification,
                addr_of(SubscriberKind::Notification),
                options.clone(),
            )
            .await?,
            payment_processor: start_subscriber(
                SubscriberKind::PaymentProcessor,
                addr_of(SubscriberKind::PaymentProcessor),
                options.clone(),
            )
            .await?,
        })
    }

    pub fn get(&self, kind: SubscriberKind) -> &SubscriberHandle {
        match kind {
            SubscriberKind::Inventory => &self.inventory,
            SubscriberKind::Notification => &self.notification,
            SubscriberKind::PaymentProcessor => &self.payment_processor,
        }
    }
}

/// Shared by the handle and the routes.
pub(crate) type Shared = Arc<log::SubscriberState>;
