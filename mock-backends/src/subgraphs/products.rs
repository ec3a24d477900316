//! The products subgraph: owns `Product` (`@key(fields: "id")`), which
//! orders reach through `Order.items.product`; `Product.weightGrams` feeds
//! the orders subgraph's `@requires`, and `Product.name` is `@shareable`.

use std::sync::Arc;

use async_graphql::{Context, EmptyMutation, EmptySubscription, ID, Object, Schema, SimpleObject};

use super::auth_directives::FederationSdl;
use super::common::parse_id;
use crate::domain::Product;
use crate::store::Store;

/// The products subgraph's schema.
pub type ProductsSchema = Schema<ProductsQuery, EmptyMutation, EmptySubscription>;

/// Builds the schema on `store`.
pub fn schema(store: Arc<Store>) -> ProductsSchema {
    Schema::build(ProductsQuery, EmptyMutation, EmptySubscription)
        .enable_federation()
        .extension(FederationSdl)
        .data(store)
        .finish()
}

/// A catalog product.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Product")]
pub struct ProductNode {
    pub id: ID,
    pub sku: String,
    #[graphql(shareable)]
    pub name: String,
    pub price: f64,
    pub weight_grams: u32,
}

impl From<Product> for ProductNode {
    fn from(product: Product) -> Self {
        ProductNode {
            id: ID(product.id.to_string()),
            sku: product.sku,
            name: product.name,
            price: product.price,
            weight_grams: product.weight_grams,
        }
    }
}

/// `Query` of the products subgraph.
pub struct ProductsQuery;

#[Object(name = "Query")]
impl ProductsQuery {
    /// One product, or null.
    async fn product(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<ProductNode>> {
        let store = ctx.data::<Arc<Store>>()?;
        Ok(store
            .get_product(parse_id("id", &id)?)
            .map(ProductNode::from))
    }

    /// The first `first` products of the catalog.
    async fn products(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 30, validator(minimum = 0, maximum = 100))] first: usize,
    ) -> async_graphql::Result<Vec<ProductNode>> {
        let store = ctx.data::<Arc<Store>>()?;
        let products = store.list_products().into_iter().take(first);
        Ok(products.map(ProductNode::from).collect())
    }

    #[graphql(entity)]
    async fn find_product_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<ProductNode>> {
        let store = ctx.data::<Arc<Store>>()?;
        Ok(store
            .get_product(parse_id("id", &id)?)
            .map(ProductNode::from))
    }
}
