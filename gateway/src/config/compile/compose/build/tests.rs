//! Building plans: dependencies from templates, cycles, located errors.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::config::model::{EjectionPolicy, LoadBalancing, UpstreamProtocol};

fn backend(name: &str) -> Arc<BackendSpec> {
    Arc::new(BackendSpec {
        health_check: None,
        tls: Default::default(),
        name: name.into(),
        urls: vec!["http://127.0.0.1:1".parse().unwrap()],
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
    })
}

fn get(name: &str, backend_name: &str, path: &str) -> CallInput {
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

fn input(calls: Vec<CallInput>) -> ComposeInput {
    ComposeInput {
        calls,
        response: None,
        primary: None,
        sequential: false,
        deadline: Duration::from_secs(2),
        cache: None,
    }
}

fn params() -> Vec<String> {
    vec!["id".to_owned()]
}

fn order_details() -> Vec<CallInput> {
    vec![
        get("order", "orders", "/v1/orders/{id}"),
        get("customer", "users", "/v1/users/{order.customer_id}"),
        get(
            "products",
            "products",
            "/v1/products?ids={order.items[*].product_id|join}",
        ),
        get("payment", "payments", "/v1/payments/{id}"),
    ]
}

#[test]
fn dependencies_come_from_the_templates() {
    let plan = build(input(order_details()), &params()).unwrap();
    assert_eq!(
        plan.graph.roots().collect::<Vec<_>>(),
        [0, 3],
        "order and payment start at once"
    );
    assert_eq!(
        plan.graph.dependents[0],
        [1, 2],
        "customer and products wait for order"
    );
    assert_eq!(plan.primary, 0);
    assert_eq!(
        plan.calls[1].timeout,
        Duration::from_secs(5),
        "the backend's request timeout by default"
    );
    assert!(plan.calls[0].coalesce, "GET calls coalesce by default");
}

#[test]
fn body_and_header_references_are_dependencies_too() {
    let mut calls = order_details();
    calls[3].headers = vec![(
        HeaderName::from_static("x-customer"),
        "{customer.id}".into(),
    )];
    calls.push(CallInput {
        kind: CallKindInput::Rest {
            method: Method::POST,
            path: "/v1/audit".into(),
            body: Some(json!({"who": "{customer.email}"})),
        },
        ..get("audit", "orders", "/")
    });
    let plan = build(input(calls), &params()).unwrap();
    assert_eq!(
        plan.graph.dependencies[3]
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        [1]
    );
    assert_eq!(
        plan.graph.dependencies[4]
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        [1]
    );
    assert!(
        !plan.calls[4].coalesce,
        "POST calls are not coalesced by default"
    );
}

#[test]
fn cycles_are_reported_with_their_path() {
    let calls = vec![
        get("a", "orders", "/a/{c.id}"),
        get("b", "orders", "/b/{a.id}"),
        get("c", "orders", "/c/{b.id}"),
    ];
    let errors = build(input(calls), &params()).unwrap_err();
    assert_eq!(
        errors,
        [PlanError {
            location: Location::Call(0),
            message: "calls form a cycle: a -> c -> b -> a".into()
        }]
    );
}

#[test]
fn unknown_references_are_located_and_all_reported() {
    let mut compose = input(vec![
        get("order", "orders", "/v1/orders/{idd}"),
        get("user", "users", "users/{order.customer_id}"),
    ]);
    compose.response = Some(json!({"name": "{usr.name}"}));
    compose.primary = Some("ordr".into());
    let errors = build(compose, &params()).unwrap_err();
    let locations: Vec<_> = errors.iter().map(|error| error.location.clone()).collect();
    assert_eq!(
        locations,
        [
            Location::CallField {
                call: 0,
                field: CallField::Path,
                at: vec![]
            },
            Location::CallField {
                call: 1,
                field: CallField::Path,
                at: vec![]
            },
            Location::Response(vec!["name".into()]),
            Location::Primary,
        ]
    );
    assert!(errors[0].message.contains("`idd`"), "{}", errors[0].message);
    assert!(
        errors[1].message.contains("must start with `/`"),
        "{}",
        errors[1].message
    );
}

#[test]
fn bad_names_are_rejected() {
    let errors = build(
        input(vec![get("id", "orders", "/x"), get("a b", "orders", "/y")]),
        &params(),
    )
    .unwrap_err();
    assert_eq!(errors.len(), 2);
    assert!(errors[0].message.contains("name of a path parameter"));
    assert!(errors[1].message.contains("only letters"));
}

#[test]
fn the_default_response_lists_every_call() {
    let plan = build(input(order_details()), &params()).unwrap();
    let ValueTemplate::Object(fields) = &plan.response else {
        panic!("not an object")
    };
    let keys: Vec<_> = fields.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(keys, ["order", "customer", "products", "payment"]);
}
