//! Results are projected through the public schema: an `@inaccessible`
//! enum value or object type never reaches the client (null plus an
//! error, with null propagation), and one response key selected in several
//! fragments is one merged field.

use async_graphql::{
    EmptyMutation, EmptySubscription, Enum, Interface, Object, Schema, SimpleObject,
};
use serde_json::json;
use tests::federation_cases::{CaseGateway, RecordingSubgraph};

const SUPERGRAPH: &str = r#"
enum join__Graph {
  PETS @join__graph(name: "pets", url: "$pets")
}

type Query @join__type(graph: PETS) {
  pets: [Pet] @join__field(graph: PETS)
  statuses: [Status] @join__field(graph: PETS)
  mood: Status! @join__field(graph: PETS)
}

enum Status @join__type(graph: PETS) {
  OPEN @join__enumValue(graph: PETS)
  SECRET @join__enumValue(graph: PETS) @inaccessible
}

type Owner @join__type(graph: PETS) {
  id: ID!
  name: String!
}

interface Pet @join__type(graph: PETS) {
  name: String!
  owner: Owner!
}

type Dog implements Pet @join__implements(graph: PETS, interface: "Pet") @join__type(graph: PETS) {
  name: String!
  owner: Owner!
}

type Robot implements Pet @join__implements(graph: PETS, interface: "Pet") @join__type(graph: PETS) @inaccessible {
  name: String!
  owner: Owner!
}
"#;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
enum Status {
    Open,
    Secret,
}

#[derive(SimpleObject, Clone)]
struct Owner {
    id: async_graphql::ID,
    name: String,
}

#[derive(SimpleObject)]
struct Dog {
    name: String,
    owner: Owner,
}

#[derive(SimpleObject)]
struct Robot {
    name: String,
    owner: Owner,
}

#[derive(Interface)]
#[graphql(
    field(name = "name", ty = "&String"),
    field(name = "owner", ty = "&Owner")
)]
enum Pet {
    Dog(Dog),
    Robot(Robot),
}

struct PetsQuery;

#[Object(name = "Query")]
impl PetsQuery {
    async fn pets(&self) -> Vec<Pet> {
        let owner = Owner {
            id: "o1".into(),
            name: "Olga".into(),
        };
        vec![
            Pet::Dog(Dog {
                name: "Rex".into(),
                owner: owner.clone(),
            }),
            Pet::Robot(Robot {
                name: "R2".into(),
                owner,
            }),
        ]
    }

    async fn statuses(&self) -> Vec<Status> {
        vec![Status::Open, Status::Secret]
    }

    async fn mood(&self) -> Status {
        Status::Secret
    }
}

async fn gateway() -> (CaseGateway, RecordingSubgraph) {
    let pets = RecordingSubgraph::start(
        Schema::build(PetsQuery, EmptyMutation, EmptySubscription)
            .register_output_type::<Pet>()
            .finish(),
    )
    .await;
    let gateway = CaseGateway::start(SUPERGRAPH, &[("pets", &pets)]).await;
    (gateway, pets)
}

fn codes(body: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["extensions"]["code"].as_str().unwrap_or("").to_owned(),
                        e["path"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn an_inaccessible_enum_value_is_null_with_an_error() {
    let (gateway, _pets) = gateway().await;
    let body = gateway.query("{ statuses }").await;
    assert_eq!(body["data"], json!({ "statuses": ["OPEN", null] }));
    assert_eq!(
        codes(&body),
        vec![(
            "RESPONSE_VALIDATION_FAILED".to_owned(),
            json!(["statuses", 1])
        )]
    );
    let text = body.to_string();
    assert!(!text.contains("SECRET"), "the hidden value leaked: {text}");
}

#[tokio::test]
async fn a_hidden_value_in_a_non_null_position_nulls_the_parent() {
    let (gateway, _pets) = gateway().await;
    let body = gateway.query("{ mood }").await;
    assert_eq!(body["data"], json!(null));
    assert_eq!(
        codes(&body),
        vec![("RESPONSE_VALIDATION_FAILED".to_owned(), json!(["mood"]))]
    );
}

#[tokio::test]
async fn an_object_of_an_inaccessible_type_is_null_with_an_error() {
    let (gateway, _pets) = gateway().await;
    let body = gateway.query("{ pets { __typename name } }").await;
    assert_eq!(
        body["data"],
        json!({ "pets": [{ "__typename": "Dog", "name": "Rex" }, null] })
    );
    assert_eq!(
        codes(&body),
        vec![("RESPONSE_VALIDATION_FAILED".to_owned(), json!(["pets", 1]))]
    );
    let text = body.to_string();
    assert!(
        !text.contains("Robot") && !text.contains("R2"),
        "leaked: {text}"
    );
}

#[tokio::test]
async fn one_response_key_across_fragments_is_one_merged_field() {
    let (gateway, _pets) = gateway().await;
    let body = gateway
        .query(
            "{ pets { ... on Dog { owner { id } } ...PetOwner } }
             fragment PetOwner on Pet { owner { name } }",
        )
        .await;
    assert_eq!(
        body["data"]["pets"][0],
        json!({ "owner": { "id": "o1", "name": "Olga" } })
    );
}
