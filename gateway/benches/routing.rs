//! Route matching, the per-request hot path before any handler: the path
//! safety check plus the host/path/method lookup, on the repository's own
//! routes.yaml and on a generated table of 1 000 routes.
//!
//! `cargo bench -p gateway --bench routing`

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use gateway::config::{self, GatewayConfig};
use gateway::router::{RouteMatch, RouteTable, check_path};
use http::Method;

/// A request to match: method and raw path.
type Probe = (&'static str, Method, &'static str);

const DEFAULT_ROUTES_PROBES: [Probe; 5] = [
    ("static", Method::GET, "/v1/products"),
    (
        "one_param",
        Method::GET,
        "/v1/orders/167b1a22-3605-8b49-97e2-c04e0b4dc0c4",
    ),
    ("catch_all", Method::GET, "/api/v1/users/42"),
    ("method_not_allowed", Method::PUT, "/v1/orders/42"),
    ("not_found", Method::GET, "/v2/nothing/here"),
];

fn default_routes() -> GatewayConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../routes.yaml");
    config::load_file(&path).unwrap_or_else(|e| panic!("routes.yaml does not load:\n{e}"))
}

/// `count` routes `/svc{i}/items/{id}` (+ `/detail`) over one backend.
fn generated_routes(count: usize) -> GatewayConfig {
    let mut yaml = String::from(
        "listen: 127.0.0.1:8080\nadmin: 127.0.0.1:9901\nbackends:\n  b:\n    url: http://127.0.0.1:7101\nroutes:\n",
    );
    for i in 0..count / 2 {
        let _ = writeln!(
            yaml,
            "  - path: /svc{i}/items/{{id}}\n    method: GET\n    backend: b"
        );
        let _ = writeln!(
            yaml,
            "  - path: /svc{i}/items/{{id}}/detail\n    methods: [GET, POST]\n    backend: b"
        );
    }
    config::load_str(&yaml, "generated.yaml").unwrap_or_else(|e| panic!("generated config:\n{e}"))
}

fn table(config: &GatewayConfig) -> RouteTable {
    RouteTable::build(&config.routes).unwrap_or_else(|c| panic!("route conflicts: {c:?}"))
}

/// Keeps the match alive for the optimiser and says whether it found a route.
fn found(decision: RouteMatch<'_>) -> bool {
    matches!(black_box(decision), RouteMatch::Found { .. })
}

fn bench_default_routes(c: &mut Criterion) {
    let table = table(&default_routes());
    let mut group = c.benchmark_group("routing/default_routes");
    for (name, method, path) in DEFAULT_ROUTES_PROBES {
        group.bench_function(name, |b| {
            b.iter(|| {
                let path = black_box(path);
                let _ = black_box(check_path(path));
                found(table.match_request(black_box(&method), Some("localhost:8080"), path))
            });
        });
    }
    group.finish();
}

fn bench_large_table(c: &mut Criterion) {
    let table = table(&generated_routes(1000));
    let mut group = c.benchmark_group("routing/1000_routes");
    let probes: [Probe; 3] = [
        ("first", Method::GET, "/svc0/items/7"),
        ("last_nested", Method::POST, "/svc499/items/7/detail"),
        ("not_found", Method::GET, "/svc500/items/7"),
    ];
    for (name, method, path) in probes {
        group.bench_function(name, |b| {
            b.iter(|| found(table.match_request(black_box(&method), None, black_box(path))));
        });
    }
    group.finish();
}

fn bench_path_check(c: &mut Criterion) {
    c.bench_function("routing/check_path/long_encoded", |b| {
        let path = "/v1/search/caf%C3%A9/items/%E2%9C%93/a/b/c/d/e/f/g/h?q=1&r=2";
        b.iter(|| check_path(black_box(path)).is_ok());
    });
}

criterion_group!(
    benches,
    bench_default_routes,
    bench_large_table,
    bench_path_check
);
criterion_main!(benches);
