//! Introspection from the public schema: no federation internals, no
//! `@inaccessible` fields, and a switch to turn it off.

use serde_json::json;
use tests::federation::{FederatedGateway, SUPERGRAPH_FILE_CONFIG, first_code};

const TYPES: &str = "{ __schema { queryType { name } types { name } } }";

#[tokio::test]
async fn the_public_schema_hides_federation_internals_and_inaccessible_fields() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let data = fed.data(TYPES, json!({})).await;
    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
    let names: Vec<&str> = data["__schema"]["types"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for expected in [
        "Order",
        "Customer",
        "Product",
        "Payment",
        "PaymentMethod",
        "SearchResult",
        "OrderStatus",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    for hidden in [
        "_Service",
        "_Entity",
        "_Any",
        "join__Graph",
        "join__FieldSet",
        "link__Purpose",
    ] {
        assert!(!names.contains(&hidden), "{hidden} is exposed");
    }
    let order = fed
        .data("{ __type(name: \"Order\") { fields { name } } }", json!({}))
        .await;
    let fields: Vec<&str> = order["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(fields.contains(&"shippingEstimate") && fields.contains(&"customer"));
    assert!(!fields.contains(&"internalNote"), "{fields:?}");
    let query = fed
        .data("{ __type(name: \"Query\") { fields { name } } }", json!({}))
        .await;
    let roots: Vec<&str> = query["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(!roots.iter().any(|f| f.starts_with('_')), "{roots:?}");
}

#[tokio::test]
async fn the_full_introspection_query_with_fragments_works() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let query = r#"
      query IntrospectionQuery { __schema { types { ...FullType } directives { name } } }
      fragment FullType on __Type { kind name fields(includeDeprecated: true) { name args { name defaultValue } type { ...TypeRef } } possibleTypes { name } }
      fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name } } }"#;
    let data = fed.data(query, json!({})).await;
    let types = data["__schema"]["types"].as_array().unwrap();
    let method = types.iter().find(|t| t["name"] == "PaymentMethod").unwrap();
    assert_eq!(method["kind"], "INTERFACE");
    assert_eq!(method["possibleTypes"].as_array().unwrap().len(), 3);
    let query_type = types.iter().find(|t| t["name"] == "Query").unwrap();
    let orders = query_type["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "orders")
        .unwrap();
    let first = orders["args"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "first")
        .unwrap();
    assert_eq!(first["defaultValue"], "10");
}

#[tokio::test]
async fn introspection_can_be_switched_off() {
    let fed =
        FederatedGateway::start("graphql:\n  supergraph: $SUPERGRAPH\n  introspection: false\n")
            .await;
    let (status, body) = fed.post(TYPES, json!({})).await;
    assert_eq!((status, first_code(&body)), (400, "INTROSPECTION_DISABLED"));
    // Ordinary queries still work, `__typename` included.
    let data = fed
        .data("{ customers { __typename name } }", json!({}))
        .await;
    assert_eq!(data["customers"][0]["__typename"], "Customer");
}
