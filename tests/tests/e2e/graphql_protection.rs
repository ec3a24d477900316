//! Denial-of-service protection on `/graphql`: the fragment bomb and the
//! repeated-field query are refused by linear limits before any expensive
//! step; validation stays fast on repeated fields once the limits allow
//! them; planning runs on its own pool, so REST requests do not wait
//! behind it, with a time budget and a bounded queue; validation errors
//! come one per violation.

use std::time::Instant;

use serde_json::{Value, json};
use tests::federation::{FederatedGateway, SUPERGRAPH_FILE_CONFIG, first_code};
use tests::gateway::eventually;

/// `fragment F0 on Customer { id }`, `fragment Fk on Customer { ...Fk-1
/// ...Fk-1 }`, `{ customers { ...F<levels> } }`; `tag` makes the text
/// unique (so it is not a cache hit).
fn fragment_bomb(levels: usize, tag: &str) -> String {
    let mut query = format!("query Bomb{tag} {{ customers {{ ...F{levels} }} }}\n");
    query.push_str("fragment F0 on Customer { id }\n");
    for k in 1..=levels {
        query.push_str(&format!(
            "fragment F{k} on Customer {{ ...F{p} ...F{p} }}\n",
            p = k - 1
        ));
    }
    query
}

/// The process's resident memory in KiB (the gateway runs in-process).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn no_subgraph_was_called(fed: &FederatedGateway) {
    for kind in mock_backends::SubgraphKind::ALL {
        assert!(
            fed.subgraphs.get(kind).operations().is_empty(),
            "{kind} was called"
        );
    }
}

#[tokio::test]
async fn the_fragment_bomb_is_refused_by_its_expanded_size() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let query = fragment_bomb(22, "");
    let before = rss_kib();
    let started = Instant::now();
    let (status, body) = fed.post(&query, json!({})).await;
    println!(
        "fragment bomb F22 ({} bytes): answered in {:?}",
        query.len(),
        started.elapsed()
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(first_code(&body), "MAX_EXPANDED_FIELDS_EXCEEDED");
    assert_eq!(
        body["errors"][0]["message"],
        "number of fields after fragment expansion is 4194305, above the limit of 5000"
    );
    assert!(body["errors"][0]["extensions"]["requestId"].is_string());
    let grown_mib = rss_kib().saturating_sub(before) / 1024;
    assert!(grown_mib < 100, "RSS grew by {grown_mib} MiB");
    no_subgraph_was_called(&fed);
}

#[tokio::test]
async fn a_fragment_cycle_is_refused_before_validation() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let query =
        "{ customers { ...A } } fragment A on Customer { id ...B } fragment B on Customer { ...A }";
    let (status, body) = fed.post_strict(query, json!({})).await;
    assert_eq!(
        (status, first_code(&body)),
        (400, "GRAPHQL_VALIDATION_FAILED")
    );
    assert_eq!(
        body["errors"][0]["message"],
        "fragment A spreads itself (A → B → A)"
    );
}

fn repeated_ids() -> String {
    format!("{{ customers {{ {} }} }}", "id ".repeat(14_895))
}

#[tokio::test]
async fn the_repeated_field_query_is_refused_by_default() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let (status, body) = fed.post(&repeated_ids(), json!({})).await;
    assert_eq!(
        (status, first_code(&body)),
        (400, "MAX_EXPANDED_FIELDS_EXCEEDED"),
        "{body}"
    );
    let wide_only =
        "graphql:\n  supergraph: $SUPERGRAPH\n  limits: { max_expanded_fields: 20000 }\n";
    let fed = FederatedGateway::start(wide_only).await;
    let (status, body) = fed.post(&repeated_ids(), json!({})).await;
    assert_eq!(
        (status, first_code(&body)),
        (400, "MAX_SELECTION_FIELDS_EXCEEDED"),
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["message"],
        "number of fields in one selection set is 14895, above the limit of 500"
    );
    no_subgraph_was_called(&fed);
}

#[tokio::test]
async fn validation_is_fast_on_repeated_fields_when_the_limits_allow_them() {
    let yaml = "graphql:\n  supergraph: $SUPERGRAPH\n  limits: { max_expanded_fields: 20000, max_selection_fields: 20000 }\n";
    let fed = FederatedGateway::start(yaml).await;
    let query = repeated_ids();
    let started = Instant::now();
    let data = fed.data(&query, json!({})).await;
    println!(
        "14,895 x `id` ({} bytes), limits raised: answered in {:?} (uncached)",
        query.len(),
        started.elapsed()
    );
    assert!(data["customers"][0]["id"].is_string(), "{data}");
    let started = Instant::now();
    fed.data(&query, json!({})).await;
    println!("the same query again (cached): {:?}", started.elapsed());
}

#[tokio::test]
async fn validation_errors_come_one_per_violation_with_locations() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let query = "{\n  customers { nope }\n  alsoNope\n}";
    let (status, body) = fed.post_strict(query, json!({})).await;
    assert_eq!(status, 400);
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2, "{body}");
    assert_eq!(errors[0]["locations"], json!([{ "line": 2, "column": 15 }]));
    assert_eq!(errors[1]["locations"], json!([{ "line": 3, "column": 3 }]));
    for error in errors {
        assert_eq!(error["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED");
        assert!(error["extensions"]["requestId"].is_string());
        assert!(
            error["message"].as_str().unwrap().contains("ope"),
            "{error}"
        );
    }
}

/// Limits that let a fragment bomb through to normalization, so it keeps
/// a planning thread busy (the workload for the pool tests).
fn pool_config(planning: &str) -> String {
    format!(
        "graphql:\n  supergraph: $SUPERGRAPH\n  limits: {{ max_expanded_fields: 100000000, max_selection_fields: 100000000 }}\n  planning: {planning}\nbackends:\n  users: {{ url: $USERS }}\nroutes:\n  - path: /v1/users/{{id}}\n    backend: users\n"
    )
}

/// The bomb's level for the pool tests: seconds of normalization in a
/// debug build, a fraction of that in release.
const HEAVY: usize = 16;

async fn post_owned(fed: &FederatedGateway, query: String) -> (u16, Value) {
    fed.post(&query, json!({})).await
}

async fn wait_until_busy(fed: &FederatedGateway) {
    let service = fed.gw.gateway.snapshot().graphql.clone().unwrap();
    eventually("a planning thread is busy", || {
        let service = std::sync::Arc::clone(&service);
        async move { service.planning.busy() >= 1 }
    })
    .await;
}

#[tokio::test]
async fn a_rest_request_does_not_wait_behind_graphql_planning() {
    let fed = std::sync::Arc::new(
        FederatedGateway::start(&pool_config("{ threads: 1, max_queued: 8, timeout: 5m }")).await,
    );
    let graphql: Vec<_> = (0..3)
        .map(|i| {
            let fed = std::sync::Arc::clone(&fed);
            tokio::spawn(async move {
                let started = Instant::now();
                let answer = post_owned(&fed, fragment_bomb(HEAVY, &i.to_string())).await;
                (answer, started.elapsed())
            })
        })
        .collect();
    wait_until_busy(&fed).await;
    let started = Instant::now();
    let rest = fed
        .gw
        .client
        .get(fed.gw.url(&format!(
            "/v1/users/{}",
            mock_backends::seed::FIRST_CUSTOMER_ID
        )))
        .send()
        .await
        .unwrap();
    let rest_latency = started.elapsed();
    assert_eq!(rest.status(), 200);
    let pending = graphql.iter().filter(|task| !task.is_finished()).count();
    println!(
        "REST answered in {rest_latency:?} while {pending} of 3 GraphQL operations were being planned"
    );
    assert!(
        pending >= 2,
        "the REST request should complete before the queued GraphQL ones"
    );
    for task in graphql {
        let ((status, body), elapsed) = task.await.unwrap();
        println!("GraphQL F{HEAVY} answered after {elapsed:?}");
        assert_eq!(status, 200, "{body}");
        assert!(body["data"]["customers"][0]["id"].is_string());
    }
}

#[tokio::test]
async fn over_budget_and_over_capacity_get_503_with_their_codes() {
    let fed =
        FederatedGateway::start(&pool_config("{ threads: 1, max_queued: 0, timeout: 5m }")).await;
    let cached = "{ customers { name } }";
    fed.data(cached, json!({})).await;
    let fed = std::sync::Arc::new(fed);
    let heavy = {
        let fed = std::sync::Arc::clone(&fed);
        tokio::spawn(async move { post_owned(&fed, fragment_bomb(HEAVY, "busy")).await })
    };
    wait_until_busy(&fed).await;
    let response = fed
        .gw
        .client
        .post(fed.gw.url("/graphql"))
        .json(&json!({ "query": "{ products(first: 1) { name } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(first_code(&body), "PLANNING_OVERLOADED", "{body}");
    // A cached operation does not need the pool.
    assert!(!heavy.is_finished());
    fed.data(cached, json!({})).await;
    let (status, _) = heavy.await.unwrap();
    assert_eq!(status, 200);

    let tight = FederatedGateway::start(&pool_config("{ threads: 1, timeout: 100ms }")).await;
    let (status, body) = tight.post(&fragment_bomb(HEAVY, "late"), json!({})).await;
    assert_eq!(
        (status, first_code(&body)),
        (503, "PLANNING_TIMEOUT"),
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["message"],
        "the operation could not be prepared within its budget of 100ms"
    );
    // The abandoned work ends and the thread serves again.
    eventually("the pool serves again", || async {
        tight.post("{ customers { id } }", json!({})).await.0 == 200
    })
    .await;
}

#[tokio::test]
async fn thousands_of_nesting_levels_are_refused_without_a_crash() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let levels = 7_000;
    let query = format!("{}{}", "{ a ".repeat(levels), "}".repeat(levels));
    let (status, body) = fed.post_strict(&query, json!({})).await;
    // The parser's own recursion limit stops it first.
    assert_eq!(
        (status, first_code(&body)),
        (400, "GRAPHQL_PARSE_FAILED"),
        "{body}"
    );
    let nested = format!("{{ customers {}{} }}", "{ id ".repeat(20), "}".repeat(20));
    let (status, body) = fed.post(&nested, json!({})).await;
    assert_eq!(
        (status, first_code(&body)),
        (400, "MAX_DEPTH_EXCEEDED"),
        "{body}"
    );
    fed.data("{ customers { id } }", json!({})).await;
}
