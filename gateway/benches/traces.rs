//! What observation costs per request, on the observe layer alone (a
//! trivial inner service, the response body read to its end) and on one
//! upstream attempt's bookkeeping:
//!
//! - `bare`: the inner service, no layer;
//! - `layer_off`: the observe layer with no sinks and traces off (the
//!   `serve` default): one flag check, no exchange, no span;
//! - `attempt_off`: `UpstreamAttempt::start` + `finish` with traces off,
//!   over `attempt_baseline` (building the request alone);
//! - `layer_traces_0pct` / `layer_traces_100pct`: traces on (a pipeline
//!   whose collector is unreachable, so the batch queue drops what it
//!   cannot send), sampling nothing or everything.
//!
//! `cargo bench -p gateway --bench traces`

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use gateway::body::{self, GatewayBody};
use gateway::config::model::{ExporterSettings, TracingSettings};
use gateway::observe::otel::TracingPipeline;
use gateway::observe::{AttemptOutcome, EndpointName, ObserveLayer, Observers, UpstreamAttempt};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use tower::{Layer, Service, ServiceExt, service_fn};
use tracing_subscriber::layer::SubscriberExt;

type Inner =
    fn(Request<GatewayBody>) -> std::future::Ready<Result<Response<GatewayBody>, Infallible>>;

fn answer(
    _request: Request<GatewayBody>,
) -> std::future::Ready<Result<Response<GatewayBody>, Infallible>> {
    std::future::ready(Ok(Response::new(body::full("ok"))))
}

fn request() -> Request<GatewayBody> {
    Request::get("/v1/orders/42")
        .header("user-agent", "bench")
        .body(body::empty())
        .expect("request")
}

async fn one<S>(service: &mut S)
where
    S: Service<Request<GatewayBody>, Response = Response<GatewayBody>, Error = Infallible>,
{
    let service = service.ready().await.expect("ready");
    let response = service.call(request()).await.expect("response");
    black_box(response.into_body().collect().await.expect("body"));
}

fn bench_layer(c: &mut Criterion, name: &str, runtime: &tokio::runtime::Runtime) {
    let mut service =
        ObserveLayer::new(Arc::new(Observers::default())).layer(service_fn(answer as Inner));
    c.bench_function(name, |b| b.iter(|| runtime.block_on(one(&mut service))));
}

fn observe(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut bare = service_fn(answer as Inner);
    c.bench_function("bare", |b| b.iter(|| runtime.block_on(one(&mut bare))));
    bench_layer(c, "layer_off", &runtime);
    let endpoint = EndpointName::new(&Arc::from("orders"), &Arc::from("http://127.0.0.1:9"));
    c.bench_function("attempt_baseline", |b| {
        b.iter(|| {
            let upstream = Request::get("http://127.0.0.1:9/v1/orders/42")
                .body(())
                .expect("request");
            black_box(upstream);
        });
    });
    c.bench_function("attempt_off", |b| {
        b.iter(|| {
            let mut upstream = Request::get("http://127.0.0.1:9/v1/orders/42")
                .body(())
                .expect("request");
            let attempt = UpstreamAttempt::start(None, &endpoint, &mut upstream, false);
            attempt.finish(AttemptOutcome::Response(StatusCode::OK));
            black_box(upstream);
        });
    });
    for (name, ratio) in [("layer_traces_0pct", 0.0), ("layer_traces_100pct", 1.0)] {
        let defaults = TracingSettings::default();
        let settings = TracingSettings {
            enabled: true,
            sampling_ratio: ratio,
            exporter: ExporterSettings {
                endpoint: "http://127.0.0.1:9".to_owned(),
                timeout: Duration::from_millis(100),
                ..defaults.exporter.clone()
            },
            ..defaults
        };
        let pipeline = TracingPipeline::start(&settings).expect("pipeline");
        let subscriber = tracing_subscriber::registry().with(pipeline.layer());
        tracing::subscriber::with_default(subscriber, || bench_layer(c, name, &runtime));
    }
}

criterion_group!(benches, observe);
criterion_main!(benches);
