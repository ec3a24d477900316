//! The seed's microservices, built to test and benchmark the gateway
//! against: orders over REST and gRPC, users, products and payments, all on
//! one deterministic in-memory [`Store`], each with latency, error and
//! "down" injection and a log of what it received.
//!
//! Start everything with [`start_all`], or one service with
//! [`start_service`]; each returns a [`ServiceHandle`] whose [`Control`]
//! changes the injection at runtime. See `docs/mock-backends.md`.

pub mod cli;
pub mod control;
pub mod debug;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod health;
pub mod options;
pub mod pagination;
pub mod proto;
pub mod rest;
pub mod seed;
pub mod server;
pub mod services;
pub mod store;
pub mod validation;

pub use control::{Control, FaultKind, Faults, Outcome, RecordedRequest};
pub use error::MockError;
pub use options::{MockBackends, MockOptions, PerService, ServiceAddrs, start_all};
pub use server::{ServiceHandle, start_service};
pub use services::ServiceKind;
pub use store::{OrderChanged, OrderDeleted, Store};
pub mod subgraphs;
pub mod subscribers;
pub use subgraphs::{PerSubgraph, SubgraphHandle, SubgraphKind, Subgraphs, start_subgraph};
pub use subscribers::{
    RecordedDelivery, SubscriberFaults, SubscriberHandle, SubscriberKind, SubscriberOptions,
    Subscribers, start_subscriber,
};
