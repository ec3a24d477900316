//! A representation whose key field is null is not sent: that entity
//! resolves to null (with an error at its path) while the others of the
//! same batch resolve.

use async_graphql::{EmptyMutation, EmptySubscription, ID, Object, Schema, SimpleObject};
use serde_json::json;
use tests::federation_cases::{CaseGateway, RecordingSubgraph};

const SUPERGRAPH: &str = r#"
enum join__Graph {
  CATALOG @join__graph(name: "catalog", url: "$catalog")
  STOCK @join__graph(name: "stock", url: "$stock")
}

type Query @join__type(graph: CATALOG) @join__type(graph: STOCK) {
  products: [Product] @join__field(graph: CATALOG)
}

type Product @join__type(graph: CATALOG, key: "id") @join__type(graph: STOCK, key: "sku") {
  id: ID! @join__field(graph: CATALOG)
  sku: String
  price: Int @join__field(graph: STOCK)
}
"#;

#[derive(SimpleObject)]
struct Product {
    id: ID,
    sku: Option<String>,
}

struct CatalogQuery;

#[Object(name = "Query")]
impl CatalogQuery {
    async fn products(&self) -> Vec<Product> {
        let product = |id: &str, sku: Option<&str>| Product {
            id: ID::from(id),
            sku: sku.map(str::to_owned),
        };
        vec![
            product("p1", Some("s1")),
            product("p2", None),
            product("p3", Some("s3")),
        ]
    }
}

#[derive(SimpleObject)]
#[graphql(name = "Product")]
struct StockProduct {
    sku: String,
    price: i32,
}

struct StockQuery;

#[Object(name = "Query")]
impl StockQuery {
    #[graphql(entity)]
    async fn product_by_sku(&self, sku: String) -> StockProduct {
        let price = if sku == "s1" { 10 } else { 30 };
        StockProduct { sku, price }
    }
}

#[tokio::test]
async fn an_entity_without_its_key_resolves_to_null_and_the_others_resolve() {
    let catalog = RecordingSubgraph::start(
        Schema::build(CatalogQuery, EmptyMutation, EmptySubscription).finish(),
    )
    .await;
    let stock = RecordingSubgraph::start(
        Schema::build(StockQuery, EmptyMutation, EmptySubscription).finish(),
    )
    .await;
    let gateway = CaseGateway::start(SUPERGRAPH, &[("catalog", &catalog), ("stock", &stock)]).await;

    let body = gateway.query("{ products { id price } }").await;

    assert_eq!(
        body,
        json!({
            "errors": [{
                "message": "the entity has no value for its key field \"sku\", so it was not fetched from subgraph \"stock\"",
                "path": ["products", 1],
                "extensions": { "code": "INVALID_ENTITY_REPRESENTATION", "serviceName": "stock" },
            }],
            "data": { "products": [
                { "id": "p1", "price": 10 },
                null,
                { "id": "p3", "price": 30 },
            ]},
        })
    );
    assert_eq!(catalog.requests().len(), 1);
    assert_eq!(
        stock.requests(),
        vec![json!({
            "query": "query($representations:[_Any!]!){_entities(representations: $representations){...on Product{price}}}",
            "variables": { "representations": [
                { "__typename": "Product", "sku": "s1" },
                { "__typename": "Product", "sku": "s3" },
            ]},
        })]
    );
}
