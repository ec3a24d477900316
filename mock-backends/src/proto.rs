//! The code generated from `proto/orders.proto` (package `orders`): the
//! messages, `order_service_server` and `order_service_client`. Nothing
//! else in the crate names prost types except [`crate::grpc`], which
//! converts them to domain types at the boundary.
#![allow(clippy::all, clippy::pedantic, missing_docs)]

tonic::include_proto!("orders");
