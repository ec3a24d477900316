//! The orders subgraph: owns `Order` (`@key(fields: "id")`), lists and
//! searches orders, creates them and changes their status, and streams
//! status changes. `Order.shippingEstimate` `@requires` the weights of the
//! products, which the products subgraph owns; `Order.internalNote` is
//! `@inaccessible`; `Product.name` is `@shareable` with products.

mod mutation;
mod subscription;

use std::sync::Arc;

use async_graphql::{Context, ID, Json, Object, Schema, SimpleObject, Union};
use serde::Deserialize;

use super::auth_directives::FederationSdl;
use super::common::{GqlOrderStatus, parse_id};
use crate::domain::{Order, Product, round_cents};
use crate::store::{OrderFilter, Store};
pub use mutation::OrdersMutation;
pub use subscription::{OpenSubscriptions, OrdersSubscription};

/// The orders subgraph's schema.
pub type OrdersSchema = Schema<OrdersQuery, OrdersMutation, OrdersSubscription>;

/// Builds the schema on `store`.
pub fn schema(store: Arc<Store>) -> OrdersSchema {
    schema_counting(store, OpenSubscriptions::default())
}

/// Builds the schema, counting open subscriptions in `open`.
pub fn schema_counting(store: Arc<Store>, open: OpenSubscriptions) -> OrdersSchema {
    Schema::build(OrdersQuery, OrdersMutation, OrdersSubscription)
        .enable_federation()
        .extension(FederationSdl)
        .enable_subscription_in_federation()
        .data(store)
        .data(open)
        .finish()
}

/// An order as the orders subgraph knows it.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Order")]
pub struct OrderNode {
    pub id: ID,
    pub status: GqlOrderStatus,
    pub total: f64,
    pub created_at: String,
    pub items: Vec<OrderItemNode>,
    /// Only resolved through `_entities`, where the gateway passes the
    /// product weights it fetched from the products subgraph.
    #[graphql(requires = "items { product { weightGrams } }")]
    pub shipping_estimate: Option<f64>,
    /// For staff tools only: hidden from the public schema.
    #[graphql(inaccessible)]
    pub internal_note: String,
}

/// One line of an order.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "OrderItem")]
pub struct OrderItemNode {
    pub product: ProductRef,
    pub quantity: u32,
    pub unit_price: f64,
}

/// The orders subgraph's view of a product: its key, its shared name and
/// the weight it needs from the products subgraph.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Product")]
pub struct ProductRef {
    pub id: ID,
    #[graphql(shareable)]
    pub name: String,
    #[graphql(external)]
    pub weight_grams: u32,
}

/// A search hit: an order or a product.
#[derive(Union, Clone, Debug)]
pub enum SearchResult {
    Order(OrderNode),
    Product(ProductRef),
}

/// One page of orders.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "OrderConnection")]
pub struct OrderConnection {
    pub nodes: Vec<OrderNode>,
    pub total_count: usize,
    /// Pass it as `after` to get the next page; null on the last page.
    pub end_cursor: Option<String>,
}

/// The product weights that `Order.shippingEstimate` requires, in item order.
#[derive(Deserialize, serde::Serialize, Debug)]
pub struct WeighedItem {
    product: ProductWeight,
}

#[derive(Deserialize, serde::Serialize, Debug)]
struct ProductWeight {
    #[serde(rename = "weightGrams")]
    weight_grams: u32,
}

/// Base price plus 1.50 per kilogram.
pub fn shipping_estimate(order: &Order, weights: &[WeighedItem]) -> f64 {
    let grams: u64 = order
        .items
        .iter()
        .zip(weights)
        .map(|(item, weighed)| u64::from(item.quantity) * u64::from(weighed.product.weight_grams))
        .sum();
    round_cents(4.99 + grams as f64 / 1000.0 * 1.5)
}

impl OrderNode {
    pub(crate) fn from_order(order: &Order, store: &Store) -> OrderNode {
        let items = order
            .items
            .iter()
            .map(|item| OrderItemNode {
                product: ProductRef::lookup(item.product_id, store),
                quantity: item.quantity,
                unit_price: item.unit_price,
            })
            .collect();
        OrderNode {
            id: ID(order.id.to_string()),
            status: order.status.into(),
            total: order.total,
            created_at: order
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            items,
            shipping_estimate: None,
            internal_note: format!("picked by warehouse {}", order.id.as_u128() % 3 + 1),
        }
    }
}

impl ProductRef {
    fn lookup(id: uuid::Uuid, store: &Store) -> ProductRef {
        match store.get_product(id) {
            Some(product) => ProductRef::from(&product),
            None => ProductRef {
                id: ID(id.to_string()),
                name: String::new(),
                weight_grams: 0,
            },
        }
    }
}

impl From<&Product> for ProductRef {
    fn from(product: &Product) -> Self {
        ProductRef {
            id: ID(product.id.to_string()),
            name: product.name.clone(),
            weight_grams: product.weight_grams,
        }
    }
}

/// `Query` of the orders subgraph.
pub struct OrdersQuery;

#[Object(name = "Query")]
impl OrdersQuery {
    /// One order, or null when there is none with this id.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<OrderNode>> {
        let store = ctx.data::<Arc<Store>>()?;
        let id = parse_id("id", &id)?;
        Ok(store
            .get_order(id)
            .map(|o| OrderNode::from_order(&o, store)))
    }

    /// Orders in insertion order, optionally of one status.
    async fn orders(
        &self,
        ctx: &Context<'_>,
        status: Option<GqlOrderStatus>,
        #[graphql(default = 10, validator(minimum = 0, maximum = 100))] first: usize,
        after: Option<String>,
    ) -> async_graphql::Result<OrderConnection> {
        let store = ctx.data::<Arc<Store>>()?;
        let offset = match after {
            Some(cursor) => parse_cursor(&cursor)?,
            None => 0,
        };
        let filter = OrderFilter {
            status: status.map(Into::into),
            customer_id: None,
        };
        let page = store.list_orders(&filter, 1, offset.saturating_add(first));
        let nodes: Vec<OrderNode> = page
            .items
            .iter()
            .skip(offset)
            .map(|o| OrderNode::from_order(o, store))
            .collect();
        let end = offset + nodes.len();
        Ok(OrderConnection {
            end_cursor: (end < page.total).then(|| end.to_string()),
            nodes,
            total_count: page.total,
        })
    }

    /// Products whose name contains `text` and orders whose id starts with it.
    async fn search(
        &self,
        ctx: &Context<'_>,
        text: String,
    ) -> async_graphql::Result<Vec<SearchResult>> {
        let store = ctx.data::<Arc<Store>>()?;
        let needle = text.to_lowercase();
        let products = store
            .list_products()
            .into_iter()
            .filter(|p| p.name.to_lowercase().contains(&needle))
            .map(|p| SearchResult::Product(ProductRef::from(&p)));
        let orders = store
            .list_orders(&OrderFilter::default(), 1, usize::MAX)
            .items
            .into_iter()
            .filter(|o| !needle.is_empty() && o.id.to_string().starts_with(&needle))
            .map(|o| SearchResult::Order(OrderNode::from_order(&o, store)));
        Ok(products.chain(orders).collect())
    }

    #[graphql(entity)]
    async fn find_order_by_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(key)] id: ID,
        items: Option<Json<Vec<WeighedItem>>>,
    ) -> async_graphql::Result<Option<OrderNode>> {
        let store = ctx.data::<Arc<Store>>()?;
        let Some(order) = store.get_order(parse_id("id", &id)?) else {
            return Ok(None);
        };
        let mut node = OrderNode::from_order(&order, store);
        node.shipping_estimate = items.map(|Json(weights)| shipping_estimate(&order, &weights));
        Ok(Some(node))
    }

    #[graphql(entity)]
    async fn find_product_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<ProductRef>> {
        let store = ctx.data::<Arc<Store>>()?;
        Ok(store
            .get_product(parse_id("id", &id)?)
            .map(|p| ProductRef::from(&p)))
    }
}

fn parse_cursor(cursor: &str) -> async_graphql::Result<usize> {
    cursor.parse().map_err(|_| {
        super::common::coded_error(
            "BAD_USER_INPUT",
            format!("argument \"after\": {cursor:?} is not a cursor returned by endCursor"),
        )
    })
}
