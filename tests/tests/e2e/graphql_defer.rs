//! `@defer` over multipart HTTP: the primary result first with
//! `hasNext: true`, then each deferred fragment's `incremental` entries at
//! their paths; clients that do not accept `multipart/mixed` get one
//! inline result.

use std::time::Duration;

use mock_backends::seed::{FIRST_CUSTOMER_ID, FIRST_ORDER_ID};
use serde_json::{Value, json};
use tests::federation::{FederatedGateway, SUPERGRAPH_FILE_CONFIG};

const MULTIPART: &str = "multipart/mixed;deferSpec=20220824, application/json";

/// POSTs `query` to `/graphql` asking for `accept`.
async fn send(
    fed: &FederatedGateway,
    accept: &str,
    query: &str,
    variables: Value,
) -> reqwest::Response {
    fed.gw
        .client
        .post(fed.gw.url("/graphql"))
        .header("accept", accept)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request sent")
}

/// POSTs with `accept`; returns the content type and the raw body.
async fn post(
    fed: &FederatedGateway,
    accept: &str,
    query: &str,
    variables: Value,
) -> (String, String) {
    let response = send(fed, accept, query, variables).await;
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (content_type, response.text().await.expect("body"))
}

/// The JSON payloads of a `multipart/mixed; boundary="-"` body, checking
/// its delimiters and its closing line.
fn payloads(body: &str) -> Vec<Value> {
    let body = body
        .strip_suffix("\r\n-----\r\n")
        .unwrap_or_else(|| panic!("not closed: {body:?}"));
    body.split("\r\n---\r\n")
        .skip(1)
        .map(|part| {
            let (head, json) = part.split_once("\r\n\r\n").expect("part head");
            assert_eq!(head, "content-type: application/json; charset=utf-8");
            serde_json::from_str(json).expect("JSON part")
        })
        .collect()
}

#[tokio::test]
async fn a_deferred_fragment_arrives_in_a_later_part_at_its_path() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let query = r#"query($id: ID!) {
        order(id: $id) { id status ... @defer(label: "buyer") { customer { id name } } }
    }"#;
    let (content_type, body) = post(&fed, MULTIPART, query, json!({ "id": FIRST_ORDER_ID })).await;
    assert!(
        content_type.starts_with("multipart/mixed"),
        "{content_type}"
    );
    assert!(
        content_type.contains("deferSpec=20220824"),
        "{content_type}"
    );
    let payloads = payloads(&body);
    assert_eq!(payloads.len(), 2, "{payloads:?}");
    assert_eq!(
        payloads[0],
        json!({ "data": { "order": { "id": FIRST_ORDER_ID.to_string(), "status": "SHIPPED" } }, "hasNext": true })
    );
    let customer = fed
        .gw
        .mocks
        .store
        .get_customer(FIRST_CUSTOMER_ID)
        .expect("seeded");
    assert_eq!(
        payloads[1],
        json!({ "hasNext": false, "incremental": [{
            "data": { "customer": { "id": FIRST_CUSTOMER_ID.to_string(), "name": customer.name } },
            "path": ["order"],
            "label": "buyer",
        }]})
    );
}

#[tokio::test]
async fn deferred_fragments_in_a_list_get_one_entry_per_item() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let query = "{ orders(first: 3) { nodes { id ... @defer { customer { name } } } } }";
    let (_, body) = post(&fed, MULTIPART, query, json!({})).await;
    let payloads = payloads(&body);
    assert_eq!(payloads.len(), 2, "{payloads:?}");
    let nodes = payloads[0]["data"]["orders"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    assert_eq!(nodes.len(), 3);
    assert!(
        nodes.iter().all(|n| n.get("customer").is_none()),
        "{nodes:?}"
    );
    let entries = payloads[1]["incremental"].as_array().expect("entries");
    let paths: Vec<&Value> = entries.iter().map(|e| &e["path"]).collect();
    assert_eq!(
        paths,
        vec![
            &json!(["orders", "nodes", 0]),
            &json!(["orders", "nodes", 1]),
            &json!(["orders", "nodes", 2])
        ]
    );
    assert!(
        entries
            .iter()
            .all(|e| e["data"]["customer"]["name"].is_string())
    );
    assert_eq!(payloads[1]["hasNext"], json!(false));
}

#[tokio::test]
async fn without_multipart_the_deferred_fields_are_inline() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let query = r#"query($id: ID!, $later: Boolean!) {
        order(id: $id) { id ... @defer(if: $later) { customer { id } } }
    }"#;
    let variables = json!({ "id": FIRST_ORDER_ID, "later": true });
    let (content_type, body) = post(&fed, "application/json", query, variables).await;
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        body,
        json!({ "data": { "order": {
            "id": FIRST_ORDER_ID.to_string(),
            "customer": { "id": FIRST_CUSTOMER_ID.to_string() },
        }}})
    );
}

#[tokio::test]
async fn the_primary_part_is_sent_while_a_deferred_subgraph_is_still_working() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    // `users` answers nothing for an hour: only the deferred part needs it.
    fed.subgraphs
        .users
        .control
        .set_latency(Duration::from_secs(3600), Duration::ZERO);
    let query = "query($id: ID!) { order(id: $id) { id ... @defer { customer { name } } } }";
    let mut response = send(&fed, MULTIPART, query, json!({ "id": FIRST_ORDER_ID })).await;
    let mut received = String::new();
    while !received.contains("\"hasNext\":true}") {
        let chunk = response
            .chunk()
            .await
            .expect("stream")
            .expect("a part before the end");
        received.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
    }
    assert!(
        received.contains(&format!("\"id\":\"{FIRST_ORDER_ID}\"")),
        "{received}"
    );
    assert!(!received.contains("customer"), "{received}");
    fed.subgraphs
        .users
        .control
        .wait_for_requests(|requests| !requests.is_empty())
        .await;
}

#[tokio::test]
async fn too_many_deferred_fragments_are_refused() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let fragments = "... @defer { status } ".repeat(17);
    let query = format!("query($id: ID!) {{ order(id: $id) {{ id {fragments} }} }}");
    let response = send(&fed, MULTIPART, &query, json!({ "id": FIRST_ORDER_ID })).await;
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("JSON error");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "MAX_DEFERRED_EXCEEDED"
    );
    // Inline (no multipart), the same operation is fine.
    let (status, body) = fed.post(&query, json!({ "id": FIRST_ORDER_ID })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["order"]["status"], "SHIPPED");
}
