//! The five services and what each one serves. Every service gets
//! `/healthz` and `grpc.health.v1` (see `health`), the `/debug/*` test
//! utilities (REST services) and the injection middleware in front of all
//! of it.

use std::sync::Arc;

use axum::Router;
use axum::middleware;

use crate::control::ControlState;
use crate::control::injection::inject;
use crate::store::Store;
use crate::{grpc, health, rest};

/// One of the mock services.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    /// Orders over REST (`/v1/orders`).
    OrdersRest,
    /// Orders over gRPC (`orders.OrderService`).
    OrdersGrpc,
    /// Customers (`/v1/users`).
    Users,
    /// The catalog (`/v1/products`).
    Products,
    /// Payments (`/v1/payments/{order_id}`).
    Payments,
}

impl ServiceKind {
    /// Every service, in start order.
    pub const ALL: [ServiceKind; 5] = [
        ServiceKind::OrdersRest,
        ServiceKind::OrdersGrpc,
        ServiceKind::Users,
        ServiceKind::Products,
        ServiceKind::Payments,
    ];

    /// The name used in logs and CLI flags.
    pub fn name(self) -> &'static str {
        match self {
            ServiceKind::OrdersRest => "orders-rest",
            ServiceKind::OrdersGrpc => "orders-grpc",
            ServiceKind::Users => "users",
            ServiceKind::Products => "products",
            ServiceKind::Payments => "payments",
        }
    }
}

impl std::fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The complete router of one service, middleware included.
pub(crate) fn build_router(
    kind: ServiceKind,
    store: Arc<Store>,
    control: Arc<ControlState>,
) -> Router {
    let routes = match kind {
        ServiceKind::OrdersRest => rest::orders::router(store),
        ServiceKind::OrdersGrpc => grpc::router(store),
        ServiceKind::Users => rest::catalog::users_router(store),
        ServiceKind::Products => rest::catalog::products_router(store),
        ServiceKind::Payments => rest::catalog::payments_router(store),
    };
    let routes = if kind == ServiceKind::OrdersGrpc {
        routes
    } else {
        routes
            .merge(rest::debug_routes::router(Arc::clone(&control)))
            .fallback(rest::route_not_found)
            .method_not_allowed_fallback(rest::method_not_allowed)
    };
    let grpc_services: &'static [&'static str] = if kind == ServiceKind::OrdersGrpc {
        &["orders.OrderService"]
    } else {
        &[]
    };
    routes
        .merge(health::routes(Arc::clone(&control), grpc_services))
        .layer(middleware::from_fn_with_state(control, inject))
}
