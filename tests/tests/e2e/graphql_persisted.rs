//! Automatic persisted queries as Apollo Client and urql use them: a hash
//! miss gets `PERSISTED_QUERY_NOT_FOUND`, the client registers the text,
//! then the hash alone is served (POST and GET); a wrong hash is refused.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tests::federation::{FederatedGateway, SUPERGRAPH_FILE_CONFIG, first_code};

const QUERY: &str = "{ customers { name } }";

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn extensions(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

async fn post(fed: &FederatedGateway, body: Value) -> (u16, Value) {
    let response = fed
        .gw
        .client
        .post(fed.gw.url("/graphql"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_hash_miss_is_registered_then_served_by_hash_alone() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let hash = sha256_hex(QUERY);
    let (status, body) = post(&fed, json!({ "extensions": extensions(&hash) })).await;
    assert_eq!(status, 200);
    assert_eq!(first_code(&body), "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");

    let (status, body) = post(
        &fed,
        json!({ "query": QUERY, "extensions": extensions(&hash) }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["customers"][0]["name"].is_string(), "{body}");

    let (status, body) = post(&fed, json!({ "extensions": extensions(&hash) })).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["customers"][0]["name"].is_string(), "{body}");

    let response = fed
        .gw
        .client
        .get(fed.gw.url("/graphql"))
        .query(&[("extensions", extensions(&hash).to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["data"]["customers"][0]["name"].is_string(), "{body}");
}

#[tokio::test]
async fn a_wrong_hash_is_refused_and_apq_can_be_switched_off() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let wrong = sha256_hex("{ products { name } }");
    let (status, body) = post(
        &fed,
        json!({ "query": QUERY, "extensions": extensions(&wrong) }),
    )
    .await;
    assert_eq!(
        (status, first_code(&body)),
        (400, "PERSISTED_QUERY_HASH_MISMATCH")
    );
    let (status, body) = post(&fed, json!({ "extensions": extensions(&wrong) })).await;
    assert_eq!(
        (status, first_code(&body)),
        (200, "PERSISTED_QUERY_NOT_FOUND"),
        "the mismatched text was not registered"
    );
    let (status, body) = post(&fed, json!({ "variables": {} })).await;
    assert_eq!((status, first_code(&body)), (400, "BAD_REQUEST"));

    let off = "graphql:\n  supergraph: $SUPERGRAPH\n  persisted_queries: { apq: false }\n";
    let fed = FederatedGateway::start(off).await;
    let (status, body) = post(
        &fed,
        json!({ "extensions": extensions(&sha256_hex(QUERY)) }),
    )
    .await;
    assert_eq!(
        (status, first_code(&body)),
        (200, "PERSISTED_QUERY_NOT_SUPPORTED")
    );
    let (status, _) = post(&fed, json!({ "query": QUERY })).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn trusted_documents_mode_refuses_unknown_operations() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("manifest.json");
    let trusted = json!({
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [{ "id": "customers-v1", "body": QUERY, "name": null, "type": "query" }]
    });
    std::fs::write(&manifest, trusted.to_string()).unwrap();
    let yaml = format!(
        "graphql:\n  supergraph: $SUPERGRAPH\n  persisted_queries: {{ manifest: {}, trusted_only: true }}\n",
        manifest.display()
    );
    let fed = FederatedGateway::start(&yaml).await;
    let (status, body) = post(&fed, json!({ "extensions": extensions("customers-v1") })).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["customers"][0]["name"].is_string(), "{body}");
    let (status, body) = post(&fed, json!({ "query": QUERY })).await;
    assert_eq!(status, 200, "the manifest's text is trusted too: {body}");
    for kind in mock_backends::SubgraphKind::ALL {
        fed.subgraphs.get(kind).clear_operations();
    }
    let other = "{ products(first: 1) { name } }";
    let refused = [
        json!({ "query": other }),
        json!({ "query": other, "extensions": extensions(&sha256_hex(other)) }),
        json!({ "extensions": extensions(&sha256_hex(other)) }),
    ];
    for body in refused {
        let (status, answer) = post(&fed, body).await;
        assert_eq!(
            (status, first_code(&answer)),
            (400, "PERSISTED_QUERY_NOT_IN_LIST"),
            "{answer}"
        );
    }
    for kind in mock_backends::SubgraphKind::ALL {
        assert!(
            fed.subgraphs.get(kind).operations().is_empty(),
            "{kind} was called"
        );
    }
}
