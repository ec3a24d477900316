//! What observation adds to one request: the observe layer around a
//! handler that names its route and makes one upstream attempt, with no
//! observer (the layer passes the request through) and with the metrics
//! sink (the exchange, the lock-free series lookups, the histograms).
//!
//! `cargo bench -p gateway --bench observe`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use gateway::body::{self, GatewayBody};
use gateway::config;
use gateway::observe::metrics::Metrics;
use gateway::observe::{
    AttemptOutcome, EndpointName, Exchange, ObserveLayer, Observers, UpstreamAttempt,
};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use tower::{Layer, Service, ServiceExt, service_fn};

const ROUTES: &str = "backends:\n  b:\n    url: http://127.0.0.1:1\nroutes:\n  - name: orders\n    path: /orders\n    backend: b\n";

fn bench_observe(c: &mut Criterion) {
    let config = config::load_str(ROUTES, "bench.yaml").expect("config");
    let route = Arc::clone(&config.routes[0]);
    let name = EndpointName::new(&Arc::from("b"), &Arc::from("http://127.0.0.1:1/"));
    let handler = service_fn(move |request: Request<GatewayBody>| {
        let (route, name) = (route.clone(), name.clone());
        async move {
            let exchange = Exchange::of(&request).cloned();
            if let Some(exchange) = &exchange {
                exchange.set_route(route);
            }
            let attempt = UpstreamAttempt::start(exchange, &name, &mut Request::new(()), false);
            attempt.finish(AttemptOutcome::Response(StatusCode::OK));
            Ok::<_, std::convert::Infallible>(Response::new(body::full("ok")))
        }
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("observe_one_request");
    for (name, observers) in [
        ("off", Observers::default()),
        (
            "metrics",
            Observers::default().with_metrics(Arc::new(Metrics::new())),
        ),
    ] {
        let mut service = ObserveLayer::new(Arc::new(observers)).layer(handler.clone());
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let request = Request::get("/orders")
                        .body(body::empty())
                        .expect("request");
                    let response = service.ready().await.expect("ready").call(request).await;
                    let response = response.expect("response");
                    black_box(response.into_body().collect().await.expect("body"));
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_observe);
criterion_main!(benches);
