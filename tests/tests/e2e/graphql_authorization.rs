//! `@authenticated` and `@requiresScopes` from the supergraph, through
//! the real gateway and the real mock subgraphs: `Customer.email`
//! (`@authenticated`), `PaypalMethod.accountEmail` (`payments:read` with
//! `pii:read`, or `admin`) and `BankTransferMethod.reference`
//! (`payments:read`). A caller without a principal (no authentication
//! layer on the route) loses every guarded field: each is null with an
//! `UNAUTHORIZED_FIELD` error, null propagation follows the schema, and
//! the subgraphs are never asked for it.

use mock_backends::SubgraphKind;
use mock_backends::seed::FIRST_ORDER_ID;
use serde_json::{Value, json};
use tests::federation::{FederatedGateway, SUPERGRAPH_FILE_CONFIG};

fn unauthorized(path: Value) -> Value {
    json!({
        "message": "Unauthorized field or type",
        "path": path,
        "extensions": { "code": "UNAUTHORIZED_FIELD" }
    })
}

/// Every operation each subgraph received, in subgraph order.
fn calls(fed: &FederatedGateway) -> Vec<(&'static str, Vec<String>)> {
    SubgraphKind::ALL
        .iter()
        .map(|kind| (kind.name(), fed.subgraphs.get(*kind).operations()))
        .collect()
}

fn without_request_ids(mut body: Value) -> Value {
    if let Some(errors) = body.get_mut("errors").and_then(Value::as_array_mut) {
        for error in errors {
            if let Some(extensions) = error["extensions"].as_object_mut() {
                extensions.remove("requestId");
            }
        }
    }
    body
}

#[tokio::test]
async fn a_removed_non_null_field_nulls_its_nearest_nullable_parent_and_is_never_fetched() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let query = "query($id: ID!) { order(id: $id) { id customer { name email } } }";
    let (status, body) = fed.post(query, json!({ "id": FIRST_ORDER_ID })).await;
    assert_eq!(status, 200);
    // email is String! and customer is Customer!: order (nullable) is null.
    assert_eq!(
        without_request_ids(body),
        json!({
            "errors": [unauthorized(json!(["order", "customer", "email"]))],
            "data": { "order": null }
        })
    );
    // The users subgraph is asked for the name only.
    assert_eq!(
        calls(&fed),
        vec![
            ("orders", vec!["query($id:ID!){order(id: $id){__typename id}}".to_owned()]),
            (
                "users",
                vec![
                    "query($representations:[_Any!]!){_entities(representations: $representations){...on Order{customer{name}}}}"
                        .to_owned()
                ]
            ),
            ("products", vec![]),
            ("payments", vec![]),
        ]
    );
}

#[tokio::test]
async fn fields_guarded_in_fragments_are_removed_per_type() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let query = "{ orders(first: 4) { nodes { id payment { method { __typename label \
                 ... on PaypalMethod { accountEmail } ... on BankTransferMethod { reference } } } } } }";
    let (status, body) = fed.post(query, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let body = without_request_ids(body);
    assert_eq!(
        body["errors"],
        json!([
            unauthorized(json!([
                "orders",
                "nodes",
                "@",
                "payment",
                "method",
                "accountEmail"
            ])),
            unauthorized(json!([
                "orders",
                "nodes",
                "@",
                "payment",
                "method",
                "reference"
            ])),
        ])
    );
    // Cards keep their method; a PayPal or bank-transfer method lost a
    // non-null field, so its payment (nullable) is null.
    let nodes = body["data"]["orders"]["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 4);
    let mut seen = Vec::new();
    for node in nodes {
        match &node["payment"] {
            Value::Null => seen.push("withheld"),
            payment => {
                assert_eq!(payment["method"]["__typename"], "CardMethod", "{body}");
                assert_eq!(payment["method"]["label"], "Card");
                seen.push("card");
            }
        }
    }
    assert!(
        seen.contains(&"card") && seen.contains(&"withheld"),
        "{body}"
    );
    // Neither field is fetched: their fragments keep only `__typename`.
    assert_eq!(
        calls(&fed),
        vec![
            ("orders", vec!["{orders(first: 4){nodes{__typename id}}}".to_owned()]),
            ("users", vec![]),
            ("products", vec![]),
            (
                "payments",
                vec![
                    "query($representations:[_Any!]!){_entities(representations: $representations){...on Order{payment{method{__typename label ...on PaypalMethod{__typename} ...on BankTransferMethod{__typename}}}}}}"
                        .to_owned()
                ]
            ),
        ]
    );
}

#[tokio::test]
async fn the_same_operation_is_served_from_its_cached_variant() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let query = "query($id: ID!) { order(id: $id) { id customer { name email } } }";
    let first = fed.post(query, json!({ "id": FIRST_ORDER_ID })).await;
    let second = fed.post(query, json!({ "id": FIRST_ORDER_ID })).await;
    assert_eq!(without_request_ids(first.1), without_request_ids(second.1));
    let service = fed.gw.gateway.snapshot().graphql.clone().expect("graphql");
    let supergraph = service.current().expect("a supergraph");
    let key = gateway::graphql::operation_cache::operation_key(query, None);
    let prepared = supergraph.caches.operation(&key).expect("cached");
    assert_eq!(prepared.authorized.len(), 1, "one outcome, one variant");
    assert_eq!(prepared.guards.guards.len(), 1);
    // An unguarded operation needs no variant and fetches what it asks.
    let data = fed
        .data(
            "query($id: ID!) { order(id: $id) { id customer { name } } }",
            json!({ "id": FIRST_ORDER_ID }),
        )
        .await;
    assert_eq!(data["order"]["customer"]["name"], "John Doe");
}

#[tokio::test]
async fn introspection_still_shows_guarded_fields() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let data = fed
        .data(
            r#"{ __type(name: "Customer") { fields { name } } }"#,
            json!({}),
        )
        .await;
    let names: Vec<&str> = data["__type"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(names.contains(&"email"), "{names:?}");
}

const HS_SECRET: &str = "0123456789abcdef0123456789abcdef-gql";

/// The endpoint behind an optional JWT (HS256): a request without a
/// token is served anonymously, one with a valid token as its principal.
fn jwt_config() -> String {
    format!(
        r#"
auth:
  jwt_providers:
    shared:
      issuer: https://hs.test
      algorithms: [HS256]
      secret: {{ value: "{HS_SECRET}" }}
graphql:
  supergraph: $SUPERGRAPH
  auth: {{ jwt: shared, optional: true }}
"#
    )
}

fn token(scope: Option<&str>) -> String {
    let mut claims = json!({
        "iss": "https://hs.test",
        "sub": "user-42",
        "iat": tests::auth::now(),
        "exp": tests::auth::now() + 300,
    });
    if let Some(scope) = scope {
        claims["scope"] = json!(scope);
    }
    tests::auth::SigningKey::hmac(HS_SECRET.as_bytes()).sign(&claims)
}

/// POSTs `query` with an optional bearer token; the body without request ids.
async fn post_as(fed: &FederatedGateway, token: Option<&str>, query: &str) -> Value {
    let mut request = fed
        .gw
        .client
        .post(fed.gw.url("/graphql"))
        .json(&json!({ "query": query }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request sent");
    assert_eq!(response.status().as_u16(), 200);
    without_request_ids(response.json().await.expect("JSON"))
}

const GUARDED: &str = "{ customers { email } orders(first: 4) { nodes { payment { method { \
    ... on PaypalMethod { accountEmail } ... on BankTransferMethod { reference } } } } } }";

/// What each caller sees of the guarded fields, and what the subgraphs
/// were asked for.
async fn seen_by(fed: &FederatedGateway, token: Option<&str>) -> (Value, String) {
    SubgraphKind::ALL
        .iter()
        .for_each(|kind| fed.subgraphs.get(*kind).clear_operations());
    let body = post_as(fed, token, GUARDED).await;
    let fetched = calls(fed)
        .into_iter()
        .flat_map(|(_, ops)| ops)
        .collect::<Vec<_>>()
        .join("\n");
    (body, fetched)
}

fn codes_and_paths(body: &Value) -> Vec<Value> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| json!([e["extensions"]["code"], e["path"]]))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn signed_tokens_see_what_their_scopes_allow_and_nothing_else_is_fetched() {
    let fed = FederatedGateway::start(&jwt_config()).await;
    let email = json!(["UNAUTHORIZED_FIELD", ["customers", "@", "email"]]);
    let account = json!([
        "UNAUTHORIZED_FIELD",
        ["orders", "nodes", "@", "payment", "method", "accountEmail"]
    ]);
    let reference = json!([
        "UNAUTHORIZED_FIELD",
        ["orders", "nodes", "@", "payment", "method", "reference"]
    ]);

    // Anonymous: every guarded field is removed; `customers` is
    // `[Customer!]!`, so the nulls reach `data`.
    let (body, fetched) = seen_by(&fed, None).await;
    assert_eq!(
        codes_and_paths(&body),
        vec![email, account.clone(), reference.clone()]
    );
    assert_eq!(body["data"], Value::Null);
    for field in ["email", "accountEmail", "reference"] {
        assert!(!fetched.contains(field), "{field} fetched: {fetched}");
    }

    // Authenticated without scopes: the email, not the payment details.
    let (body, fetched) = seen_by(&fed, Some(&token(None))).await;
    assert_eq!(codes_and_paths(&body), vec![account.clone(), reference]);
    assert!(body["data"]["customers"][0]["email"].is_string(), "{body}");
    assert!(
        fetched.contains("email")
            && !fetched.contains("accountEmail")
            && !fetched.contains("reference")
    );

    // `payments:read` alone: the reference, not the PayPal email (that
    // needs `pii:read` too).
    let (body, fetched) = seen_by(&fed, Some(&token(Some("payments:read")))).await;
    assert_eq!(codes_and_paths(&body), vec![account]);
    assert!(
        fetched.contains("reference") && !fetched.contains("accountEmail"),
        "{fetched}"
    );

    // Both scopes, or `admin`: everything, nothing removed.
    for scope in ["payments:read pii:read", "admin payments:read"] {
        let (body, fetched) = seen_by(&fed, Some(&token(Some(scope)))).await;
        assert!(body.get("errors").is_none(), "{scope}: {body}");
        assert!(
            fetched.contains("accountEmail") && fetched.contains("reference"),
            "{fetched}"
        );
        let methods: Vec<&Value> = body["data"]["orders"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|node| &node["payment"]["method"])
            .collect();
        assert!(
            methods.iter().any(|m| m["accountEmail"].is_string()),
            "{body}"
        );
        assert!(methods.iter().any(|m| m["reference"].is_string()), "{body}");
    }

    // Anonymous again: the privileged plans are not reused.
    let (body, fetched) = seen_by(&fed, None).await;
    assert_eq!(body["data"], Value::Null);
    assert!(!fetched.contains("email"), "{fetched}");
}
