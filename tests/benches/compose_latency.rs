//! Latency of the order-details composition at a fixed request rate, with
//! the seed's backend latencies (orders 50 ms, users 30, products 40,
//! payments 20):
//!
//! 1. `floor` — the critical path called directly by the client: orders,
//!    then products (50 + 40 = 90 ms plus two local round trips);
//! 2. `parallel` — `GET /v1/orders/{id}/details` composed by the gateway;
//! 3. `sequential` — the same composition with `sequential: true`;
//! 4. `coalesced` — `parallel` with coalescing on (the default for GET):
//!    concurrent requests for the same order share upstream calls, so it
//!    can beat the floor.
//!
//! Rows 2 and 3 set `coalesce: false` so every request pays for its own
//! four calls.
//! Open loop: requests start on a fixed schedule (`BENCH_RPS`, default
//! 500/s) for `BENCH_SECS` (default 5), whatever the latency, so slow
//! answers do not lower the offered load. No cache is configured, so
//! every request reaches every backend.
//!
//! Run: `CARGO_TARGET_DIR=/work/target cargo bench -p tests --bench compose_latency`

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mock_backends::{MockOptions, seed};
use serde_json::Value;
use tests::gateway::TestGateway;

const BACKENDS: &str = "backends:
  orders: { url: $ORDERS, max_connections: 2048 }
  users: { url: $USERS, max_connections: 2048 }
  products: { url: $PRODUCTS, max_connections: 2048 }
  payments: { url: $PAYMENTS, max_connections: 2048 }
routes:
";

/// The calls, each with `{C}` standing for extra per-call keys.
const CALLS: &str = r#"      calls:
        order:    { backend: orders,   path: "/v1/orders/{id}"{C} }
        customer: { backend: users,    path: "/v1/users/{order.customer_id}"{C} }
        products: { backend: products, path: "/v1/products?ids={order.items[*].product_id|join}"{C} }
        payment:  { backend: payments, path: "/v1/payments/{id}", optional: true{C} }
      response:
        order: "{order}"
        customer: "{customer}"
        items: { $from: "{order.items}", $join: { with: "{products.items}", on: product_id, as: product } }
        payment: "{payment}"
"#;

/// The same composition three times: parallel and sequential without
/// coalescing (every request makes its own four calls), and parallel with
/// the default coalescing (concurrent requests for one order share calls).
fn routes() -> String {
    let route = |name: &str, sequential: bool, coalesce: bool| {
        let calls = CALLS.replace("{C}", if coalesce { "" } else { ", coalesce: false" });
        let sequential = if sequential {
            "      sequential: true\n"
        } else {
            ""
        };
        format!("  - path: /{name}/{{id}}\n    method: GET\n    compose:\n{sequential}{calls}")
    };
    let routes = [
        route("parallel", false, false),
        route("sequential", true, false),
        route("coalesced", false, true),
    ];
    format!("{BACKENDS}{}", routes.concat())
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Starts `call` `rps` times a second for `duration`; returns the latency
/// histogram (microseconds) of the calls that succeeded, and the failures.
async fn open_loop<F, Fut>(rps: u64, duration: Duration, call: F) -> (Histogram<u64>, usize)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let histogram = Arc::new(Mutex::new(Histogram::<u64>::new(3).expect("histogram")));
    let failures = Arc::new(Mutex::new(0usize));
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rps as f64));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut tasks = Vec::new();
    while started.elapsed() < duration {
        ticks.tick().await;
        let request = call();
        let (histogram, failures) = (Arc::clone(&histogram), Arc::clone(&failures));
        tasks.push(tokio::spawn(async move {
            let begin = Instant::now();
            if request.await {
                let _ = histogram
                    .lock()
                    .expect("histogram")
                    .record(begin.elapsed().as_micros() as u64);
            } else {
                *failures.lock().expect("failures") += 1;
            }
        }));
    }
    for task in tasks {
        task.await.expect("request task");
    }
    let histogram = histogram.lock().expect("histogram").clone();
    let failures = *failures.lock().expect("failures");
    (histogram, failures)
}

fn report(name: &str, rps: u64, (histogram, failures): &(Histogram<u64>, usize)) {
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{name:<11} {rps} req/s offered  n={:<6} failed={failures:<4} p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms",
        histogram.len(),
        ms(0.5),
        ms(0.99),
        histogram.max() as f64 / 1000.0
    );
}

async fn ok(response: Result<reqwest::Response, reqwest::Error>) -> Option<Value> {
    let response = response.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

#[tokio::main]
async fn main() {
    let rps = env_or("BENCH_RPS", 500);
    let duration = Duration::from_secs(env_or("BENCH_SECS", 5));
    let mocks = mock_backends::start_all(MockOptions::ephemeral().with_seed_latencies())
        .await
        .expect("mocks start");
    let orders = format!("http://{}", mocks.orders.addr);
    let products = format!("http://{}", mocks.products.addr);
    let gateway = TestGateway::start_with(mocks, &routes()).await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .build()
        .expect("client");
    let order_id = seed::FIRST_ORDER_ID;
    println!("order details, seed latencies, open loop for {duration:?}");

    let client = http.clone();
    let floor = open_loop(rps, duration, move || {
        let (client, orders, products) = (client.clone(), orders.clone(), products.clone());
        async move {
            let Some(order) = ok(client
                .get(format!("{orders}/v1/orders/{order_id}"))
                .send()
                .await)
            .await
            else {
                return false;
            };
            let ids: Vec<&str> = order["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i["product_id"].as_str())
                .collect();
            ok(client
                .get(format!("{products}/v1/products?ids={}", ids.join(",")))
                .send()
                .await)
            .await
            .is_some()
        }
    })
    .await;
    report("floor", rps, &floor);
    for route in ["parallel", "sequential", "coalesced"] {
        let (client, url) = (http.clone(), gateway.url(&format!("/{route}/{order_id}")));
        let result = open_loop(rps, duration, move || {
            let request = client.get(url.clone()).send();
            async move { ok(request.await).await.is_some() }
        })
        .await;
        report(route, rps, &result);
    }
}
