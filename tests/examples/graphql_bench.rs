//! Throughput and latency of federated queries, through the gateway and
//! against the subgraph directly, everything in-process on 127.0.0.1:
//! `cargo run --release -p tests --example graphql_bench [REQUESTS] [CONCURRENCY]`.

use std::time::{Duration, Instant};

use futures::StreamExt;
use hdrhistogram::Histogram;
use mock_backends::seed::FIRST_ORDER_ID;
use serde_json::{Value, json};
use tests::federation::{FederatedGateway, SUPERGRAPH_FILE_CONFIG};

struct Case {
    name: &'static str,
    query: String,
    direct: Option<mock_backends::SubgraphKind>,
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let requests: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5000);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let id = FIRST_ORDER_ID;
    let cases = [
        Case { name: "one subgraph: customers", query: "{ customers { id name } }".into(), direct: Some(mock_backends::SubgraphKind::Users) },
        Case { name: "one subgraph: order", query: format!("{{ order(id: \"{id}\") {{ id status items {{ quantity unitPrice }} }} }}"), direct: Some(mock_backends::SubgraphKind::Orders) },
        Case { name: "four subgraphs + @requires", query: format!("{{ order(id: \"{id}\") {{ id status total customer {{ name }} items {{ product {{ name sku }} }} payment {{ status payer {{ name }} }} shippingEstimate }} }}"), direct: None },
        Case { name: "list of 10 orders x 3 subgraphs", query: "{ orders(first: 10) { nodes { id customer { name } payment { status } items { product { name } } } } }".into(), direct: None },
    ];
    println!("{requests} requests per row, {concurrency} concurrent clients\n");
    println!("| query | target | req/s | p50 | p99 |\n|---|---|---|---|---|");
    for case in &cases {
        let gateway = fed.gw.url("/graphql");
        report(
            case.name,
            "gateway",
            run(&gateway, &case.query, requests, concurrency).await,
        );
        if let Some(kind) = case.direct {
            let direct = fed.subgraphs.get(kind).url();
            report(
                case.name,
                "subgraph direct",
                run(&direct, &case.query, requests, concurrency).await,
            );
        }
    }
}

fn report(name: &str, target: &str, (histogram, elapsed): (Histogram<u64>, Duration)) {
    let rate = histogram.len() as f64 / elapsed.as_secs_f64();
    let us = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "| {name} | {target} | {rate:.0} | {:.2} ms | {:.2} ms |",
        us(0.5),
        us(0.99)
    );
}

async fn run(
    url: &str,
    query: &str,
    requests: usize,
    concurrency: usize,
) -> (Histogram<u64>, Duration) {
    let client = reqwest::Client::new();
    let body = json!({ "query": query });
    // Warm-up: connections and the plan cache.
    for _ in 0..50 {
        send(&client, url, &body).await;
    }
    let started = Instant::now();
    let latencies: Vec<u64> = futures::stream::iter(0..requests)
        .map(|_| {
            let (client, body) = (client.clone(), body.clone());
            async move {
                let t = Instant::now();
                send(&client, url, &body).await;
                t.elapsed().as_micros() as u64
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let mut histogram = Histogram::<u64>::new(3).expect("histogram");
    latencies
        .iter()
        .for_each(|v| histogram.record(*v).expect("record"));
    (histogram, elapsed)
}

async fn send(client: &reqwest::Client, url: &str, body: &Value) {
    let response = client.post(url).json(body).send().await.expect("request");
    let value: Value = response.json().await.expect("json");
    assert!(value.get("errors").is_none(), "{value}");
}
