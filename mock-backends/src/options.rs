//! Starting every service at once: addresses, initial faults and the size
//! of the store, for the REST and gRPC services and the GraphQL subgraphs.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use crate::control::{FaultKind, Faults};
use crate::error::MockError;
use crate::server::{ServiceHandle, start_service};
use crate::services::ServiceKind;
use crate::store::Store;
use crate::subgraphs::{PerSubgraph, SubgraphKind, Subgraphs};

/// One value per service.
#[derive(Clone, Debug, PartialEq)]
pub struct PerService<T> {
    pub orders: T,
    pub orders_grpc: T,
    pub users: T,
    pub products: T,
    pub payments: T,
}

impl<T> PerService<T> {
    /// Builds each value from its service kind.
    pub fn from_fn(mut make: impl FnMut(ServiceKind) -> T) -> PerService<T> {
        PerService {
            orders: make(ServiceKind::OrdersRest),
            orders_grpc: make(ServiceKind::OrdersGrpc),
            users: make(ServiceKind::Users),
            products: make(ServiceKind::Products),
            payments: make(ServiceKind::Payments),
        }
    }

    pub fn get(&self, kind: ServiceKind) -> &T {
        match kind {
            ServiceKind::OrdersRest => &self.orders,
            ServiceKind::OrdersGrpc => &self.orders_grpc,
            ServiceKind::Users => &self.users,
            ServiceKind::Products => &self.products,
            ServiceKind::Payments => &self.payments,
        }
    }

    pub fn get_mut(&mut self, kind: ServiceKind) -> &mut T {
        match kind {
            ServiceKind::OrdersRest => &mut self.orders,
            ServiceKind::OrdersGrpc => &mut self.orders_grpc,
            ServiceKind::Users => &mut self.users,
            ServiceKind::Products => &mut self.products,
            ServiceKind::Payments => &mut self.payments,
        }
    }
}

/// The listen address of every service.
pub type ServiceAddrs = PerService<SocketAddr>;

impl ServiceKind {
    /// The fixed default port (used by the default `routes.yaml`).
    pub fn default_port(self) -> u16 {
        match self {
            ServiceKind::OrdersRest => 7101,
            ServiceKind::OrdersGrpc => 7102,
            ServiceKind::Users => 7103,
            ServiceKind::Products => 7104,
            ServiceKind::Payments => 7105,
        }
    }

    /// `127.0.0.1:{default_port}`.
    pub fn default_addr(self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.default_port()))
    }

    /// The seed document's latency: orders 50 ms, users 30, products 40, payments 20.
    pub fn seed_latency(self) -> Duration {
        Duration::from_millis(match self {
            ServiceKind::OrdersRest | ServiceKind::OrdersGrpc => 50,
            ServiceKind::Users => 30,
            ServiceKind::Products => 40,
            ServiceKind::Payments => 20,
        })
    }
}

impl Faults {
    /// No injection; the error kind matches the protocol (HTTP 500, or
    /// gRPC UNAVAILABLE for the gRPC service).
    pub fn none_for(kind: ServiceKind) -> Faults {
        let error_kind = match kind {
            ServiceKind::OrdersGrpc => FaultKind::Grpc(tonic::Code::Unavailable),
            _ => FaultKind::default(),
        };
        Faults {
            error_kind,
            ..Faults::default()
        }
    }
}

/// What [`start_all`] starts, and the GraphQL subgraphs
/// ([`MockOptions::start_subgraphs`]).
#[derive(Clone, Debug, PartialEq)]
pub struct MockOptions {
    pub addrs: ServiceAddrs,
    pub faults: PerService<Faults>,
    pub subgraph_addrs: PerSubgraph<SocketAddr>,
    pub subgraph_faults: PerSubgraph<Faults>,
    /// Generated orders added after the seeded ones.
    pub seed_orders: usize,
}

impl MockOptions {
    /// Every service on `127.0.0.1:0`, no injection.
    pub fn ephemeral() -> MockOptions {
        let any_port = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));
        MockOptions {
            addrs: PerService::from_fn(|_| any_port),
            subgraph_addrs: PerSubgraph::from_fn(|_| any_port),
            ..MockOptions::default_addrs()
        }
    }

    /// Every service on its fixed default address, no injection.
    pub fn default_addrs() -> MockOptions {
        MockOptions {
            addrs: PerService::from_fn(ServiceKind::default_addr),
            faults: PerService::from_fn(Faults::none_for),
            subgraph_addrs: PerSubgraph::from_fn(SubgraphKind::default_addr),
            subgraph_faults: PerSubgraph::from_fn(|_| Faults::default()),
            seed_orders: 0,
        }
    }

    /// Applies the seed document's latencies (see [`ServiceKind::seed_latency`])
    /// to the services and to the subgraphs that stand for them.
    pub fn with_seed_latencies(mut self) -> MockOptions {
        for kind in ServiceKind::ALL {
            self.faults.get_mut(kind).latency = kind.seed_latency();
        }
        for kind in SubgraphKind::ALL {
            self.subgraph_faults.get_mut(kind).latency = kind.seed_latency();
        }
        self
    }

    /// Starts the four GraphQL subgraphs on `store` (usually
    /// [`MockBackends::store`]) with these addresses and faults.
    pub async fn start_subgraphs(&self, store: Arc<Store>) -> Result<Subgraphs, MockError> {
        Subgraphs::start_with(store, &self.subgraph_addrs, &self.subgraph_faults).await
    }
}

/// Every running service plus the store they share. Dropping it stops them.
#[derive(Debug)]
pub struct MockBackends {
    pub orders: ServiceHandle,
    pub orders_grpc: ServiceHandle,
    pub users: ServiceHandle,
    pub products: ServiceHandle,
    pub payments: ServiceHandle,
    pub store: Arc<Store>,
}

impl MockBackends {
    /// The handle of one service.
    pub fn service(&self, kind: ServiceKind) -> &ServiceHandle {
        match kind {
            ServiceKind::OrdersRest => &self.orders,
            ServiceKind::OrdersGrpc => &self.orders_grpc,
            ServiceKind::Users => &self.users,
            ServiceKind::Products => &self.products,
            ServiceKind::Payments => &self.payments,
        }
    }

    /// Stops every service and waits for their connections to close.
    pub async fn shutdown(self) {
        for handle in [
            self.orders,
            self.orders_grpc,
            self.users,
            self.products,
            self.payments,
        ] {
            handle.shutdown().await;
        }
    }
}

/// Starts every service on one seeded store.
pub async fn start_all(opts: MockOptions) -> Result<MockBackends, MockError> {
    let store = Arc::new(Store::seeded_with_generated(opts.seed_orders));
    let start = |kind: ServiceKind| {
        start_service(
            kind,
            *opts.addrs.get(kind),
            Arc::clone(&store),
            opts.faults.get(kind).clone(),
        )
    };
    Ok(MockBackends {
        orders: start(ServiceKind::OrdersRest).await?,
        orders_grpc: start(ServiceKind::OrdersGrpc).await?,
        users: start(ServiceKind::Users).await?,
        products: start(ServiceKind::Products).await?,
        payments: start(ServiceKind::Payments).await?,
        store,
    })
}
