//! `Mutation` of the orders subgraph: create an order, change its status.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object};

use super::OrderNode;
use crate::domain::{NewOrder, OrderItem};
use crate::store::{Store, StoreError};
use crate::subgraphs::common::{GqlOrderStatus, coded_error, parse_id};

/// A new order: who buys what.
#[derive(InputObject, Debug)]
pub struct CreateOrderInput {
    pub customer_id: ID,
    pub items: Vec<OrderItemInput>,
}

/// One line of a new order; the unit price comes from the catalog.
#[derive(InputObject, Debug)]
pub struct OrderItemInput {
    pub product_id: ID,
    pub quantity: u32,
}

/// `Mutation` of the orders subgraph.
pub struct OrdersMutation;

#[Object(name = "Mutation")]
impl OrdersMutation {
    /// Creates a pending order.
    async fn create_order(
        &self,
        ctx: &Context<'_>,
        input: CreateOrderInput,
    ) -> async_graphql::Result<OrderNode> {
        let store = ctx.data::<Arc<Store>>()?;
        let new = validate(store, input)?;
        let order = store.create_order(new);
        Ok(OrderNode::from_order(&order, store))
    }

    /// Moves an order along its lifecycle (pending → confirmed → shipped →
    /// delivered, or to cancelled before shipping).
    async fn update_order_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        status: GqlOrderStatus,
    ) -> async_graphql::Result<OrderNode> {
        let store = ctx.data::<Arc<Store>>()?;
        let id = parse_id("id", &id)?;
        store
            .update_status(id, status.into())
            .map_err(|error| match error {
                StoreError::OrderNotFound(_) => coded_error("NOT_FOUND", error.to_string()),
                StoreError::IllegalTransition { .. } => {
                    coded_error("ILLEGAL_TRANSITION", error.to_string())
                }
            })?;
        let order = store
            .get_order(id)
            .ok_or_else(|| coded_error("NOT_FOUND", format!("order {id} not found")))?;
        Ok(OrderNode::from_order(&order, store))
    }
}

fn validate(store: &Store, input: CreateOrderInput) -> async_graphql::Result<NewOrder> {
    let customer_id = parse_id("input.customerId", &input.customer_id)?;
    if store.get_customer(customer_id).is_none() {
        return Err(coded_error(
            "BAD_USER_INPUT",
            format!("input.customerId: no customer {customer_id}"),
        ));
    }
    if input.items.is_empty() {
        return Err(coded_error(
            "BAD_USER_INPUT",
            "input.items: an order needs at least one item",
        ));
    }
    let items = input
        .items
        .iter()
        .enumerate()
        .map(|(index, item)| validate_item(store, index, item))
        .collect::<async_graphql::Result<Vec<_>>>()?;
    Ok(NewOrder { customer_id, items })
}

fn validate_item(
    store: &Store,
    index: usize,
    item: &OrderItemInput,
) -> async_graphql::Result<OrderItem> {
    let product_id = parse_id(&format!("input.items[{index}].productId"), &item.product_id)?;
    let product = store.get_product(product_id).ok_or_else(|| {
        coded_error(
            "BAD_USER_INPUT",
            format!("input.items[{index}].productId: no product {product_id}"),
        )
    })?;
    if item.quantity == 0 {
        return Err(coded_error(
            "BAD_USER_INPUT",
            format!("input.items[{index}].quantity must be at least 1"),
        ));
    }
    Ok(OrderItem {
        product_id,
        quantity: item.quantity,
        unit_price: product.price,
    })
}
