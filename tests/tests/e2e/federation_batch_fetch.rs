//! A BatchFetch plan node: the planner merges the parallel entity fetches
//! of `featured` and `products` to the `stock` subgraph into one request
//! with two aliased `_entities` fields; the gateway sends it once and
//! merges each alias's answers into the right entities.

use async_graphql::{EmptyMutation, EmptySubscription, ID, Object, Schema, SimpleObject};
use serde_json::json;
use tests::federation_cases::{CaseGateway, RecordingSubgraph};

const SUPERGRAPH: &str = r#"
enum join__Graph {
  CATALOG @join__graph(name: "catalog", url: "$catalog")
  STOCK @join__graph(name: "stock", url: "$stock")
}

type Query @join__type(graph: CATALOG) @join__type(graph: STOCK) {
  featured: Product @join__field(graph: CATALOG)
  products: [Product!]! @join__field(graph: CATALOG)
}

type Product @join__type(graph: CATALOG, key: "id") @join__type(graph: STOCK, key: "id") {
  id: ID!
  name: String! @join__field(graph: CATALOG)
  price: Int! @join__field(graph: STOCK)
  inStock: Boolean! @join__field(graph: STOCK)
}
"#;

#[derive(SimpleObject)]
#[graphql(name = "Product")]
struct CatalogProduct {
    id: ID,
    name: String,
}

struct CatalogQuery;

#[Object(name = "Query")]
impl CatalogQuery {
    async fn featured(&self) -> CatalogProduct {
        catalog_product("p2")
    }

    async fn products(&self) -> Vec<CatalogProduct> {
        vec![catalog_product("p1"), catalog_product("p2")]
    }
}

fn catalog_product(id: &str) -> CatalogProduct {
    CatalogProduct {
        id: ID::from(id),
        name: format!("name of {id}"),
    }
}

#[derive(SimpleObject)]
#[graphql(name = "Product")]
struct StockProduct {
    id: ID,
    price: i32,
    in_stock: bool,
}

struct StockQuery;

#[Object(name = "Query")]
impl StockQuery {
    #[graphql(entity)]
    async fn product_by_id(&self, id: ID) -> StockProduct {
        let price = if id.as_str() == "p1" { 10 } else { 20 };
        StockProduct {
            in_stock: id.as_str() == "p1",
            id,
            price,
        }
    }
}

#[tokio::test]
async fn batch_fetch_sends_one_request_and_merges_every_alias() {
    let catalog = RecordingSubgraph::start(
        Schema::build(CatalogQuery, EmptyMutation, EmptySubscription).finish(),
    )
    .await;
    let stock = RecordingSubgraph::start(
        Schema::build(StockQuery, EmptyMutation, EmptySubscription).finish(),
    )
    .await;
    let gateway = CaseGateway::start(SUPERGRAPH, &[("catalog", &catalog), ("stock", &stock)]).await;

    let body = gateway
        .query("{ featured { name price } products { id name inStock } }")
        .await;

    assert_eq!(
        body,
        json!({ "data": {
            "featured": { "name": "name of p2", "price": 20 },
            "products": [
                { "id": "p1", "name": "name of p1", "inStock": true },
                { "id": "p2", "name": "name of p2", "inStock": false },
            ],
        }})
    );
    assert_eq!(
        catalog.requests(),
        vec![json!({
            "query": "{featured{...a} products{...a}}\n\nfragment a on Product {__typename name id}\n",
            "variables": {},
        })]
    );
    // One request for both fetches, each alias with its own representations.
    let entities = "query($__batch_reps_0:[_Any!]!, $__batch_reps_1:[_Any!]!){\
        _e0: _entities(representations: $__batch_reps_0){...on Product{inStock}} \
        _e1: _entities(representations: $__batch_reps_1){...on Product{price}}}";
    assert_eq!(
        stock.requests(),
        vec![json!({
            "query": entities,
            "variables": {
                "__batch_reps_0": [
                    { "__typename": "Product", "id": "p1" },
                    { "__typename": "Product", "id": "p2" },
                ],
                "__batch_reps_1": [{ "__typename": "Product", "id": "p2" }],
            },
        })]
    );
}
