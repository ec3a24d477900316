//! `@interfaceObject`: the `profiles` subgraph knows `Account` only as an
//! interface object, while `accounts` returns the concrete `Admin` and
//! `Regular`. The entity fetch's `... on Account` must match both, and the
//! representations sent to `profiles` must say `__typename: "Account"`.

use async_graphql::{
    EmptyMutation, EmptySubscription, ID, Interface, Object, Schema, SimpleObject,
};
use serde_json::json;
use tests::federation_cases::{CaseGateway, RecordingSubgraph};

const SUPERGRAPH: &str = r#"
enum join__Graph {
  ACCOUNTS @join__graph(name: "accounts", url: "$accounts")
  PROFILES @join__graph(name: "profiles", url: "$profiles")
}

type Query @join__type(graph: ACCOUNTS) @join__type(graph: PROFILES) {
  accounts: [Account!]! @join__field(graph: ACCOUNTS)
}

interface Account
  @join__type(graph: ACCOUNTS, key: "id")
  @join__type(graph: PROFILES, key: "id", isInterfaceObject: true)
{
  id: ID!
  name: String! @join__field(graph: ACCOUNTS)
  bio: String @join__field(graph: PROFILES)
}

type Admin implements Account
  @join__implements(graph: ACCOUNTS, interface: "Account")
  @join__type(graph: ACCOUNTS, key: "id")
{
  id: ID!
  name: String!
  bio: String @join__field
  level: Int!
}

type Regular implements Account
  @join__implements(graph: ACCOUNTS, interface: "Account")
  @join__type(graph: ACCOUNTS, key: "id")
{
  id: ID!
  name: String!
  bio: String @join__field
}
"#;

#[derive(SimpleObject)]
struct Admin {
    id: ID,
    name: String,
    level: i32,
}

#[derive(SimpleObject)]
struct Regular {
    id: ID,
    name: String,
}

#[derive(Interface)]
#[graphql(field(name = "id", ty = "&ID"), field(name = "name", ty = "&String"))]
enum Account {
    Admin(Admin),
    Regular(Regular),
}

struct AccountsQuery;

#[Object(name = "Query")]
impl AccountsQuery {
    async fn accounts(&self) -> Vec<Account> {
        vec![
            Account::Admin(Admin {
                id: ID::from("a1"),
                name: "Ada".into(),
                level: 3,
            }),
            Account::Regular(Regular {
                id: ID::from("r1"),
                name: "Rob".into(),
            }),
        ]
    }
}

/// `Account` as the `profiles` subgraph knows it: an interface object.
#[derive(SimpleObject)]
#[graphql(name = "Account")]
struct AccountProfile {
    id: ID,
    bio: String,
}

struct ProfilesQuery;

#[Object(name = "Query")]
impl ProfilesQuery {
    #[graphql(entity)]
    async fn account_by_id(&self, id: ID) -> AccountProfile {
        AccountProfile {
            bio: format!("bio of {}", id.as_str()),
            id,
        }
    }
}

#[tokio::test]
async fn interface_object_entities_match_every_implementation_and_are_sent_as_the_interface() {
    let accounts = RecordingSubgraph::start(
        Schema::build(AccountsQuery, EmptyMutation, EmptySubscription).finish(),
    )
    .await;
    let profiles = RecordingSubgraph::start(
        Schema::build(ProfilesQuery, EmptyMutation, EmptySubscription).finish(),
    )
    .await;
    let gateway = CaseGateway::start(
        SUPERGRAPH,
        &[("accounts", &accounts), ("profiles", &profiles)],
    )
    .await;

    let body = gateway
        .query("{ accounts { __typename id name bio ... on Admin { level } } }")
        .await;

    assert_eq!(
        body,
        json!({ "data": { "accounts": [
            { "__typename": "Admin", "id": "a1", "name": "Ada", "bio": "bio of a1", "level": 3 },
            { "__typename": "Regular", "id": "r1", "name": "Rob", "bio": "bio of r1" },
        ]}})
    );
    assert_eq!(
        accounts.requests(),
        vec![json!({
            "query": "{accounts{__typename id name ...on Admin{level}}}",
            "variables": {},
        })]
    );
    assert_eq!(
        profiles.requests(),
        vec![json!({
            "query": "query($representations:[_Any!]!){_entities(representations: $representations){...on Account{bio}}}",
            "variables": { "representations": [
                { "__typename": "Account", "id": "a1" },
                { "__typename": "Account", "id": "r1" },
            ]},
        })]
    );
}
