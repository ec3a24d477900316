//! Rendering and merging composition templates: the CPU cost the gateway
//! adds on top of the backend calls of an order-details composition.
//!
//! `cargo bench -p gateway --bench compose`

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use gateway::config::compose_build::{CallInput, CallKindInput, ComposeInput, build};
use gateway::config::model::compose::{ComposeCallKind, ComposeSpec};
use gateway::config::model::{BackendSpec, EjectionPolicy, LoadBalancing, UpstreamProtocol};
use gateway::router::Params;
use gateway::template::eval::{Bindings, Target};
use gateway::template::value::Strictness;
use http::Method;
use serde_json::{Value, json};

fn backend(name: &str) -> Arc<BackendSpec> {
    Arc::new(BackendSpec {
        health_check: None,
        name: name.into(),
        urls: vec!["http://127.0.0.1:1".parse().expect("static URL")],
        protocol: UpstreamProtocol::Http1,
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(5),
        body_idle_timeout: Duration::from_secs(5),
        max_connections: 8,
        load_balancing: LoadBalancing::LeastRequest,
        ejection: EjectionPolicy {
            consecutive_failures: 3,
            cooldown: Duration::from_secs(1),
        },
        resilience: Default::default(),
        tls: Default::default(),
    })
}

fn call(name: &str, backend_name: &str, path: &str) -> CallInput {
    CallInput {
        name: name.into(),
        backend: backend(backend_name),
        kind: CallKindInput::Rest {
            method: Method::GET,
            path: path.into(),
            body: None,
        },
        optional: false,
        timeout: None,
        headers: vec![],
        coalesce: None,
        cache: None,
        propagate: vec![],
        retry: None,
    }
}

fn plan() -> ComposeSpec {
    let response = json!({
        "order_id": "{order.id}", "status": "{order.status}", "total": "{order.total}",
        "customer": {"$from": "{customer}", "$allow": ["id", "name", "email"]},
        "items": {"$from": "{order.items}", "$join": {"with": "{products.items}", "on": "product_id", "as": "product"}},
        "payment": {"$from": "{payment}", "$allow": ["status", "amount"]}
    });
    let input = ComposeInput {
        calls: vec![
            call("order", "orders", "/v1/orders/{id}"),
            call("customer", "users", "/v1/users/{order.customer_id}"),
            call(
                "products",
                "products",
                "/v1/products?ids={order.items[*].product_id|join}",
            ),
            call("payment", "payments", "/v1/payments/{id}"),
        ],
        response: Some(response),
        primary: None,
        sequential: false,
        deadline: Duration::from_secs(2),
        cache: None,
    };
    build(input, &["id".to_owned()]).expect("valid plan")
}

/// Call results shaped like the mocks' answers, with `items` order lines.
fn results(items: usize) -> Vec<Option<Arc<Value>>> {
    let lines: Vec<Value> = (0..items)
        .map(|i| json!({"product_id": format!("p{i}"), "quantity": 1, "unit_price": 9.99}))
        .collect();
    let products: Vec<Value> = (0..items)
        .rev()
        .map(|i| json!({"id": format!("p{i}"), "name": format!("Product {i}"), "price": 9.99}))
        .collect();
    vec![
        Some(Arc::new(
            json!({"id": "o1", "customer_id": "c1", "status": "shipped", "total": 9.99, "items": lines}),
        )),
        Some(Arc::new(
            json!({"id": "c1", "name": "John Doe", "email": "john@example.com"}),
        )),
        Some(Arc::new(json!({"items": products, "missing": []}))),
        Some(Arc::new(
            json!({"id": "pay1", "status": "completed", "amount": 9.99}),
        )),
    ]
}

fn bench_compose(c: &mut Criterion) {
    let plan = plan();
    let params: Params = [("id", "0e1c8a52-7d6b-8a7e-9d41-3b2a1c0d9e8f")]
        .into_iter()
        .collect();
    for items in [2, 50] {
        let results = results(items);
        let bindings = Bindings {
            params: &params,
            results: &results,
        };
        c.bench_function(&format!("render_products_path/{items}_items"), |b| {
            let ComposeCallKind::Rest(rest) = &plan.calls[2].kind else {
                unreachable!()
            };
            b.iter(|| black_box(bindings.render(&rest.path, Target::Url).expect("renders")))
        });
        c.bench_function(
            &format!("merge_order_details_response/{items}_items"),
            |b| {
                b.iter(|| {
                    black_box(
                        plan.response
                            .render(&bindings, Strictness::Lenient)
                            .expect("renders")
                            .to_string(),
                    )
                })
            },
        );
    }
}

criterion_group!(benches, bench_compose);
criterion_main!(benches);
