//! The federated GraphQL subgraphs (Federation v2, built with
//! async-graphql): orders, users, products and payments. They read and
//! write the same [`Store`] as the REST and gRPC mocks, so a change made
//! through any protocol shows in every one of them, and
//! `Subscription.orderStatusChanged` fires for changes made over REST.
//!
//! Each subgraph serves GraphQL on `POST /graphql` (with `_service { sdl }`
//! and `_entities`), graphql-transport-ws on `GET /graphql` and `/healthz`,
//! behind the same injection middleware and [`crate::Control`] as the
//! other services (latency, jitter, error rate, down, request log).
//! [`start_subgraph`] starts one; see `docs/graphql-federation.md` for the
//! schema and which federation feature each field exercises.

mod auth_directives;
mod common;
mod http;
pub mod orders;
pub mod payments;
pub mod products;
pub mod users;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

pub use http::{SubgraphHandle, start_subgraph};

use crate::control::Faults;
use crate::store::Store;

/// One of the four subgraphs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubgraphKind {
    Orders,
    Users,
    Products,
    Payments,
}

impl SubgraphKind {
    /// Every subgraph, in start order.
    pub const ALL: [SubgraphKind; 4] = [
        SubgraphKind::Orders,
        SubgraphKind::Users,
        SubgraphKind::Products,
        SubgraphKind::Payments,
    ];

    /// The subgraph name used in the supergraph (`join__Graph` values are
    /// its upper case).
    pub fn name(self) -> &'static str {
        match self {
            SubgraphKind::Orders => "orders",
            SubgraphKind::Users => "users",
            SubgraphKind::Products => "products",
            SubgraphKind::Payments => "payments",
        }
    }

    /// The listener's name in flags, errors and the address listing:
    /// `orders-graphql`, `users-graphql`, ...
    pub fn service_name(self) -> &'static str {
        match self {
            SubgraphKind::Orders => "orders-graphql",
            SubgraphKind::Users => "users-graphql",
            SubgraphKind::Products => "products-graphql",
            SubgraphKind::Payments => "payments-graphql",
        }
    }

    /// The seed document's latency of the service this subgraph stands
    /// for: orders 50 ms, users 30, products 40, payments 20.
    pub fn seed_latency(self) -> Duration {
        Duration::from_millis(match self {
            SubgraphKind::Orders => 50,
            SubgraphKind::Users => 30,
            SubgraphKind::Products => 40,
            SubgraphKind::Payments => 20,
        })
    }

    /// The fixed default port: orders 7111, users 7112, products 7113, payments 7114.
    pub fn default_port(self) -> u16 {
        match self {
            SubgraphKind::Orders => 7111,
            SubgraphKind::Users => 7112,
            SubgraphKind::Products => 7113,
            SubgraphKind::Payments => 7114,
        }
    }

    /// `127.0.0.1:{default_port}`.
    pub fn default_addr(self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.default_port()))
    }

    /// The subgraph's schema in SDL, as `_service { sdl }` returns it.
    pub fn sdl(self, store: Arc<Store>) -> String {
        let options = common::sdl_options();
        let sdl = match self {
            SubgraphKind::Orders => orders::schema(store).sdl_with_options(options),
            SubgraphKind::Users => users::schema(store).sdl_with_options(options),
            SubgraphKind::Products => products::schema(store).sdl_with_options(options),
            SubgraphKind::Payments => payments::schema(store).sdl_with_options(options),
        };
        auth_directives::with_authorization_imports(&sdl)
    }
}

impl std::fmt::Display for SubgraphKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One value per subgraph.
#[derive(Clone, Debug, PartialEq)]
pub struct PerSubgraph<T> {
    pub orders: T,
    pub users: T,
    pub products: T,
    pub payments: T,
}

impl<T> PerSubgraph<T> {
    /// Builds each value from its subgraph kind.
    pub fn from_fn(mut make: impl FnMut(SubgraphKind) -> T) -> PerSubgraph<T> {
        PerSubgraph {
            orders: make(SubgraphKind::Orders),
            users: make(SubgraphKind::Users),
            products: make(SubgraphKind::Products),
            payments: make(SubgraphKind::Payments),
        }
    }

    pub fn get(&self, kind: SubgraphKind) -> &T {
        match kind {
            SubgraphKind::Orders => &self.orders,
            SubgraphKind::Users => &self.users,
            SubgraphKind::Products => &self.products,
            SubgraphKind::Payments => &self.payments,
        }
    }

    pub fn get_mut(&mut self, kind: SubgraphKind) -> &mut T {
        match kind {
            SubgraphKind::Orders => &mut self.orders,
            SubgraphKind::Users => &mut self.users,
            SubgraphKind::Products => &mut self.products,
            SubgraphKind::Payments => &mut self.payments,
        }
    }
}

/// The four subgraphs, running on one store. Dropping it stops them.
#[derive(Debug)]
pub struct Subgraphs {
    pub orders: SubgraphHandle,
    pub users: SubgraphHandle,
    pub products: SubgraphHandle,
    pub payments: SubgraphHandle,
}

impl Subgraphs {
    /// Starts all four, each on `addr(kind)` (port 0 picks a free port),
    /// with no injection.
    pub async fn start(
        store: Arc<Store>,
        addr: impl Fn(SubgraphKind) -> SocketAddr,
    ) -> Result<Subgraphs, crate::MockError> {
        let addrs = PerSubgraph::from_fn(addr);
        Subgraphs::start_with(store, &addrs, &PerSubgraph::from_fn(|_| Faults::default())).await
    }

    /// Starts all four on `addrs` with the initial `faults` (latency,
    /// jitter and error rate apply to every GraphQL request, as on the
    /// REST and gRPC services).
    pub async fn start_with(
        store: Arc<Store>,
        addrs: &PerSubgraph<SocketAddr>,
        faults: &PerSubgraph<Faults>,
    ) -> Result<Subgraphs, crate::MockError> {
        let start = |kind| {
            let faults = faults.get(kind).clone();
            start_subgraph(kind, *addrs.get(kind), Arc::clone(&store), faults)
        };
        Ok(Subgraphs {
            orders: start(SubgraphKind::Orders).await?,
            users: start(SubgraphKind::Users).await?,
            products: start(SubgraphKind::Products).await?,
            payments: start(SubgraphKind::Payments).await?,
        })
    }

    /// The handle of one subgraph.
    pub fn get(&self, kind: SubgraphKind) -> &SubgraphHandle {
        match kind {
            SubgraphKind::Orders => &self.orders,
            SubgraphKind::Users => &self.users,
            SubgraphKind::Products => &self.products,
            SubgraphKind::Payments => &self.payments,
        }
    }
}

#[cfg(test)]
mod tests;
