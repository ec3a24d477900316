//! The federated GraphQL subgraphs (Federation v2, built with
//! async-graphql): orders, users, products and payments. They read and
//! write the same [`Store`] as the REST and gRPC mocks, so a change made
//! through any protocol shows in every one of them, and
//! `Subscription.orderStatusChanged` fires for changes made over REST.
//!
//! Each subgraph serves GraphQL on `POST /graphql` (with `_service { sdl }`
//! and `_entities`), graphql-transport-ws on `GET /graphql` and `/healthz`.
//! [`start_subgraph`] starts one; see `docs/graphql-federation.md` for the
//! schema and which federation feature each field exercises.

mod common;
mod http;
pub mod orders;
pub mod payments;
pub mod products;
pub mod users;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;

pub use http::{SubgraphHandle, start_subgraph};

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
        match self {
            SubgraphKind::Orders => orders::schema(store).sdl_with_options(options),
            SubgraphKind::Users => users::schema(store).sdl_with_options(options),
            SubgraphKind::Products => products::schema(store).sdl_with_options(options),
            SubgraphKind::Payments => payments::schema(store).sdl_with_options(options),
        }
    }
}

impl std::fmt::Display for SubgraphKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
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
    /// Starts all four, each on `addr(kind)` (port 0 picks a free port).
    pub async fn start(
        store: Arc<Store>,
        addr: impl Fn(SubgraphKind) -> SocketAddr,
    ) -> Result<Subgraphs, crate::MockError> {
        let start = |kind| start_subgraph(kind, addr(kind), Arc::clone(&store));
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
