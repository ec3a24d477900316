//! `orders.OrderService` over gRPC, on the same store as the REST orders
//! service: one RPC of each call kind. Validation failures are
//! INVALID_ARGUMENT, unknown orders NOT_FOUND.

mod commands;
pub mod convert;
mod watch;

use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::domain::NewOrder;
use crate::proto::order_service_server::{OrderService, OrderServiceServer};
use crate::proto::{
    BulkOrderResponse, CreateOrderRequest, GetOrderRequest, Order, OrderCommand, OrderEvent,
    OrderStatusUpdate, WatchOrderRequest,
};
use crate::store::Store;

/// A boxed response stream.
pub type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// The gRPC service as an axum router (so it shares the middleware).
pub fn router(store: Arc<Store>) -> Router {
    tonic::service::Routes::new(OrderServiceServer::new(OrderGrpc { store })).into_axum_router()
}

/// The `orders.OrderService` implementation.
#[derive(Clone)]
pub struct OrderGrpc {
    store: Arc<Store>,
}

impl OrderGrpc {
    fn new_order(request: CreateOrderRequest, context: &str) -> Result<NewOrder, Status> {
        NewOrder::try_from(request).map_err(|errors| convert::invalid(context, &errors))
    }
}

#[tonic::async_trait]
impl OrderService for OrderGrpc {
    async fn get_order(
        &self,
        request: Request<GetOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        let id = convert::order_id(&request.get_ref().order_id)?;
        let order = self
            .store
            .get_order(id)
            .ok_or_else(|| Status::not_found(format!("order {id} not found")))?;
        Ok(Response::new(Order::from(&order)))
    }

    async fn create_order(
        &self,
        request: Request<CreateOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        let new = Self::new_order(request.into_inner(), "")?;
        Ok(Response::new(Order::from(&self.store.create_order(new))))
    }

    type WatchOrderStream = ResponseStream<OrderStatusUpdate>;

    async fn watch_order(
        &self,
        request: Request<WatchOrderRequest>,
    ) -> Result<Response<Self::WatchOrderStream>, Status> {
        let id = convert::order_id(&request.get_ref().order_id)?;
        let updates = watch::status_updates(Arc::clone(&self.store), id)?;
        Ok(Response::new(Box::pin(updates)))
    }

    async fn create_orders(
        &self,
        request: Request<Streaming<CreateOrderRequest>>,
    ) -> Result<Response<BulkOrderResponse>, Status> {
        let mut inbound = request.into_inner();
        let mut batch = Vec::new();
        while let Some(message) = inbound.message().await? {
            batch.push(Self::new_order(
                message,
                &format!("order #{}: ", batch.len()),
            )?);
        }
        let created = self.store.create_orders(batch);
        Ok(Response::new(BulkOrderResponse {
            created_count: i32::try_from(created.len()).unwrap_or(i32::MAX),
            order_ids: created.iter().map(|order| order.id.to_string()).collect(),
        }))
    }

    type OrderUpdatesStream = ResponseStream<OrderEvent>;

    async fn order_updates(
        &self,
        request: Request<Streaming<OrderCommand>>,
    ) -> Result<Response<Self::OrderUpdatesStream>, Status> {
        let store = Arc::clone(&self.store);
        let events = request
            .into_inner()
            .map(move |command| command.map(|command| commands::apply(&store, &command)));
        Ok(Response::new(Box::pin(events)))
    }
}
