//! The event bus: the seed's asynchronous half.
//!
//! Events are CloudEvents 1.0 ([`cloud_event`]) appended to durable
//! topics in an [`store::EventStore`]: the embedded redb file by default,
//! NATS JetStream to share topics between gateway instances. Both
//! implementations keep the same contract, checked by one test suite run
//! against each.
//!
//! On top of the store:
//! - `publish:` routes append what clients POST and stream topics to
//!   them (SSE with `Last-Event-ID` resume, or WebSocket);
//! - `emit:` publishes an event after a route's 2xx response, through a
//!   local outbox so a failed emission is retried, never lost;
//! - subscriptions deliver each topic to backends over HTTP (CloudEvents
//!   binary binding), at least once, with retries and a dead-letter queue;
//! - `async:` proxy routes store a request, answer 202, and deliver it to
//!   the backend when it can take it.
//!
//! The store is opened once at start from `events.store`; the delivery
//! workers follow the snapshot (a reload adds, changes or removes
//! subscriptions without losing their cursors).

pub mod async_route;
pub mod bus;
pub mod cloud_event;
pub mod delivery;
pub mod embedded;
pub mod emit;
pub mod nats;
pub mod outbox;
pub mod publish;
pub mod store;
pub mod stream;
