//! The access log's cost on the request path: formatting one record (JSON
//! or text) and handing it to the writer's queue, as `on_finish` does on
//! a worker thread. The writer thread writes to /dev/null.
//!
//! `cargo bench -p gateway --bench access_log`

use std::hint::black_box;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use gateway::access_log::AccessLog;
use gateway::config::model::log::{AccessLogSettings, AccessLogTarget, LogFormat};
use gateway::context::{ClientIp, RequestId};
use gateway::observe::{
    EndpointName, Exchange, ExchangeEnd, ExchangeSink, Finished, Observers, UpstreamRecord,
};
use http::{Request, StatusCode};

const ROUTES: &str = "backends:\n  orders: { url: \"http://127.0.0.1:7101\" }\nroutes:\n  - path: /v1/orders/{id}\n    backend: orders\n";

fn exchange() -> Exchange {
    let mut request = Request::get("/v1/orders/167b1a22-3605-8b49-97e2-c04e0b4dc0c4")
        .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64) bench/1.0")
        .body(())
        .expect("request");
    request
        .extensions_mut()
        .insert(RequestId(Arc::from("7f3c6a1e-5b7d-4c1b-9d0e-2f4a8b6c1d3e")));
    request
        .extensions_mut()
        .insert(ClientIp::direct(SocketAddr::from(([203, 0, 113, 7], 5555))));
    let exchange = Exchange::begin(&request, Arc::new(Observers::default()));
    let config = gateway::config::load_str(ROUTES, "routes.yaml").expect("config");
    exchange.set_route(Arc::clone(&config.routes[0]));
    exchange.record_upstream(UpstreamRecord {
        name: EndpointName::new(&Arc::from("orders"), &Arc::from("http://127.0.0.1:7101/")),
        status: Some(StatusCode::OK),
        duration: Duration::from_micros(11_980),
    });
    exchange
}

fn bench_records(c: &mut Criterion) {
    let exchange = exchange();
    let finished = Finished {
        status: StatusCode::OK,
        error_code: None,
        bytes_out: 312,
        end: ExchangeEnd::Completed,
        duration: Duration::from_micros(12_345),
    };
    let mut group = c.benchmark_group("access_log_record");
    for (name, format) in [("json", LogFormat::Json), ("text", LogFormat::Text)] {
        let settings = AccessLogSettings {
            enabled: Some(true),
            format,
            target: AccessLogTarget::File(PathBuf::from("/dev/null")),
            // Large enough that the bench measures the request-path cost,
            // not drops.
            buffer_records: 1_000_000,
        };
        let (log, _writer) = AccessLog::start(&settings).expect("open /dev/null");
        group.bench_function(name, |b| {
            b.iter(|| log.on_finish(black_box(&exchange), black_box(&finished)))
        });
        println!("{name}: {} records dropped", log.dropped());
    }
    group.finish();
}

criterion_group!(benches, bench_records);
criterion_main!(benches);
