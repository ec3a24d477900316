//! Pieces every subgraph shares: ids, typed errors with
//! `extensions.code`, and the order status enum.

use async_graphql::{Enum, ErrorExtensions, ID, SDLExportOptions};
use uuid::Uuid;

use crate::domain::OrderStatus;

/// How the subgraphs print their SDL for `_service { sdl }`.
pub(crate) fn sdl_options() -> SDLExportOptions {
    SDLExportOptions::new().federation()
}

/// A GraphQL error with a stable `extensions.code`.
pub(crate) fn coded_error(code: &'static str, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, ext| ext.set("code", code))
}

/// Parses an `ID` argument as a UUID, or explains which argument was wrong.
pub(crate) fn parse_id(argument: &str, id: &ID) -> async_graphql::Result<Uuid> {
    Uuid::parse_str(id.as_str()).map_err(|_| {
        coded_error(
            "BAD_USER_INPUT",
            format!(
                "argument {argument:?}: {:?} is not a valid id (expected a UUID)",
                id.as_str()
            ),
        )
    })
}

/// Where an order stands in its lifecycle.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(name = "OrderStatus")]
pub enum GqlOrderStatus {
    Pending,
    Confirmed,
    Shipped,
    Delivered,
    Cancelled,
}

impl From<OrderStatus> for GqlOrderStatus {
    fn from(status: OrderStatus) -> Self {
        match status {
            OrderStatus::Pending => GqlOrderStatus::Pending,
            OrderStatus::Confirmed => GqlOrderStatus::Confirmed,
            OrderStatus::Shipped => GqlOrderStatus::Shipped,
            OrderStatus::Delivered => GqlOrderStatus::Delivered,
            OrderStatus::Cancelled => GqlOrderStatus::Cancelled,
        }
    }
}

impl From<GqlOrderStatus> for OrderStatus {
    fn from(status: GqlOrderStatus) -> Self {
        match status {
            GqlOrderStatus::Pending => OrderStatus::Pending,
            GqlOrderStatus::Confirmed => OrderStatus::Confirmed,
            GqlOrderStatus::Shipped => OrderStatus::Shipped,
            GqlOrderStatus::Delivered => OrderStatus::Delivered,
            GqlOrderStatus::Cancelled => OrderStatus::Cancelled,
        }
    }
}
