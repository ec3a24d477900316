//! Keys a route's action would ignore are errors, every one at once, each
//! at its line and column.

use crate::config::load_str;

fn errors_of(source: &str) -> String {
    load_str(source, "routes.yaml").unwrap_err().to_string()
}

#[test]
fn keys_a_compose_or_grpc_route_ignores_are_errors() {
    let protos = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../proto")
        .display()
        .to_string();
    let source = format!(
        r#"backends:
  a: {{ url: "http://127.0.0.1:1" }}
  g: {{ url: "http://127.0.0.1:2", protocol: h2c }}
grpc:
  protos: [{protos}/orders.proto]
  include: [{protos}]
routes:
  - path: /composed/{{id}}
    rewrite: {{ strip_prefix: /composed }}
    headers: {{ response: {{ add: {{ x-a: b }} }} }}
    body_idle_timeout: 5s
    compose:
      calls:
        one: {{ backend: a, path: "/v1/{{id}}", variables: {{ x: 1 }} }}
  - path: /orders/{{order_id}}
    method: GET
    rewrite: {{ template: "/x/{{order_id}}" }}
    headers: {{ request: {{ remove: [cookie] }} }}
    grpc: {{ backend: g, method: orders.OrderService/GetOrder }}
  - path: /orders.OrderService/{{*rest}}
    grpc: {{ backend: g, passthrough: true, body: "*", unknown_fields: ignore, max_depth: 8 }}
"#
    );
    insta::assert_snapshot!(errors_of(&source).replace(&protos, "PROTOS"));
}

#[test]
fn a_proxied_route_takes_every_route_key() {
    let source = r#"backends:
  a: { url: "http://127.0.0.1:1" }
routes:
  - path: /x/{*rest}
    backend: a
    rewrite: { template: "/{rest}" }
    headers: { request: { add: { x-a: b } } }
    timeout: 2s
    body_idle_timeout: 5s
    max_body: 1KiB
"#;
    assert!(load_str(source, "routes.yaml").is_ok());
}

#[test]
fn a_grpc_route_takes_timeouts_and_a_body_limit() {
    let protos = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../proto")
        .display()
        .to_string();
    let source = format!(
        r#"backends:
  g: {{ url: "http://127.0.0.1:2", protocol: h2c }}
grpc:
  protos: [{protos}/orders.proto]
  include: [{protos}]
routes:
  - path: /orders/{{order_id}}
    method: GET
    timeout: 2s
    body_idle_timeout: 5s
    max_body: 1KiB
    grpc: {{ backend: g, method: orders.OrderService/GetOrder }}
"#
    );
    assert!(load_str(&source, "routes.yaml").is_ok());
}
