//! The users subgraph: owns `Customer` (`@key(fields: "id")`) and
//! contributes `Order.customer` through the `Order` entity, reading the
//! order's customer id from the shared store.

use std::sync::Arc;

use async_graphql::{Context, EmptyMutation, EmptySubscription, ID, Object, Schema, SimpleObject};

use super::auth_directives::{FederationSdl, authenticated};
use super::common::parse_id;
use crate::domain::Customer;
use crate::store::Store;

/// The users subgraph's schema.
pub type UsersSchema = Schema<UsersQuery, EmptyMutation, EmptySubscription>;

/// Builds the schema on `store`.
pub fn schema(store: Arc<Store>) -> UsersSchema {
    Schema::build(UsersQuery, EmptyMutation, EmptySubscription)
        .enable_federation()
        .extension(FederationSdl)
        .data(store)
        .finish()
}

/// A customer.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Customer")]
pub struct CustomerNode {
    pub id: ID,
    /// Shared with the payments subgraph, which can provide it.
    #[graphql(shareable)]
    pub name: String,
    /// Personal data: only for authenticated callers.
    #[graphql(directive = authenticated::apply())]
    pub email: String,
}

impl From<Customer> for CustomerNode {
    fn from(customer: Customer) -> Self {
        CustomerNode {
            id: ID(customer.id.to_string()),
            name: customer.name,
            email: customer.email,
        }
    }
}

/// The users subgraph's part of an order: who placed it.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Order")]
pub struct OrderCustomer {
    pub id: ID,
    pub customer: CustomerNode,
}

/// `Query` of the users subgraph.
pub struct UsersQuery;

#[Object(name = "Query")]
impl UsersQuery {
    /// One customer, or null.
    async fn customer(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<CustomerNode>> {
        let store = ctx.data::<Arc<Store>>()?;
        Ok(store
            .get_customer(parse_id("id", &id)?)
            .map(CustomerNode::from))
    }

    /// Every customer.
    async fn customers(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<CustomerNode>> {
        let store = ctx.data::<Arc<Store>>()?;
        Ok(store
            .list_customers()
            .into_iter()
            .map(CustomerNode::from)
            .collect())
    }

    #[graphql(entity)]
    async fn find_customer_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<CustomerNode>> {
        let store = ctx.data::<Arc<Store>>()?;
        Ok(store
            .get_customer(parse_id("id", &id)?)
            .map(CustomerNode::from))
    }

    #[graphql(entity)]
    async fn find_order_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<OrderCustomer>> {
        let store = ctx.data::<Arc<Store>>()?;
        let order = store.get_order(parse_id("id", &id)?);
        let customer = order.and_then(|order| store.get_customer(order.customer_id));
        Ok(customer.map(|customer| OrderCustomer {
            id: id.clone(),
            customer: customer.into(),
        }))
    }
}
