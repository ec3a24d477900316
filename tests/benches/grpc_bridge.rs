//! Throughput and latency of three ways to read one order, all in-process
//! on 127.0.0.1 against the real mock backends:
//!
//! 1. `transcoded` — `GET /grpc/v1/orders/{id}` through the gateway
//!    (JSON → gRPC GetOrder → JSON);
//! 2. `direct-grpc` — a tonic client calling GetOrder on the mock;
//! 3. `rest-proxy` — `GET /v1/orders/{id}` proxied by the gateway to the
//!    REST mock.
//!
//! Run: `CARGO_TARGET_DIR=/work/target cargo bench -p tests --bench grpc_bridge`
//! (`BENCH_SECS` and `BENCH_CONCURRENCY` tune the run). The gateway, the
//! mocks and the load generator share the machine, so compare the rows
//! with each other, not with other machines.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mock_backends::proto::GetOrderRequest;
use mock_backends::proto::order_service_client::OrderServiceClient;
use mock_backends::seed;
use tests::gateway::TestGateway;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `call` from `concurrency` tasks for `duration`; returns req/s and
/// the latency histogram (microseconds).
async fn load<F, Fut>(concurrency: u64, duration: Duration, call: F) -> (f64, Histogram<u64>)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let call = Arc::new(call);
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let call = Arc::clone(&call);
            tokio::spawn(async move {
                let mut histogram = Histogram::<u64>::new(3).expect("histogram");
                while started.elapsed() < duration {
                    let begin = Instant::now();
                    assert!(call().await, "a benchmark request failed");
                    let _ = histogram.record(begin.elapsed().as_micros() as u64);
                }
                histogram
            })
        })
        .collect();
    let mut total = Histogram::<u64>::new(3).expect("histogram");
    for worker in workers {
        total
            .add(worker.await.expect("worker"))
            .expect("same bounds");
    }
    (total.len() as f64 / started.elapsed().as_secs_f64(), total)
}

fn report(name: &str, (rate, histogram): &(f64, Histogram<u64>)) {
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{name:<12} {rate:>10.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms",
        ms(0.5),
        ms(0.99)
    );
}

#[tokio::main]
async fn main() {
    let secs = env_or("BENCH_SECS", 5);
    let concurrency = env_or("BENCH_CONCURRENCY", 32);
    let duration = Duration::from_secs(secs);
    let gateway = TestGateway::with_default_routes().await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency as usize)
        .build()
        .expect("client");
    let transcoded_url = gateway.url(&format!("/grpc/v1/orders/{}", seed::FIRST_ORDER_ID));
    let rest_url = gateway.url(&format!("/v1/orders/{}", seed::FIRST_ORDER_ID));
    let grpc = OrderServiceClient::connect(format!("http://{}", gateway.mocks.orders_grpc.addr))
        .await
        .expect("grpc connect");
    println!("{concurrency} concurrent clients, {secs}s per path");

    let get = |client: reqwest::Client, url: String| {
        move || {
            let (client, url) = (client.clone(), url.clone());
            async move {
                client
                    .get(url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        }
    };
    let direct = move || {
        let mut client = grpc.clone();
        async move {
            client
                .get_order(GetOrderRequest {
                    order_id: seed::FIRST_ORDER_ID.to_string(),
                })
                .await
                .is_ok()
        }
    };
    // Warm-up: connections, pools, caches.
    load(
        concurrency,
        Duration::from_secs(1),
        get(http.clone(), transcoded_url.clone()),
    )
    .await;
    load(
        concurrency,
        Duration::from_secs(1),
        get(http.clone(), rest_url.clone()),
    )
    .await;

    let transcoded = load(concurrency, duration, get(http.clone(), transcoded_url)).await;
    let direct = load(concurrency, duration, direct).await;
    let rest = load(concurrency, duration, get(http.clone(), rest_url)).await;
    report("transcoded", &transcoded);
    report("direct-grpc", &direct);
    report("rest-proxy", &rest);
    println!(
        "transcoded / rest-proxy throughput: {:.2}x",
        transcoded.0 / rest.0
    );
}
