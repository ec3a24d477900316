use std::path::{Path, PathBuf};

use crate::config::model::RouteAction;
use crate::config::model::grpc::GrpcModeSpec as GrpcMode;
use crate::config::{load_file, load_str};
use crate::protos::descriptors::CallKind;

fn proto_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto")
}

fn config(routes: &str, grpc_extra: &str) -> String {
    let dir = proto_dir().display().to_string();
    format!(
        "backends:\n  orders-grpc:\n    url: http://127.0.0.1:1\n    protocol: h2c\nroutes:\n{routes}\ngrpc:\n  protos: [{dir}/orders.proto]\n  include: [{dir}]\n{grpc_extra}"
    )
}

fn errors(yaml: &str) -> String {
    load_str(yaml, "routes.yaml").unwrap_err().to_string()
}

#[test]
fn the_default_routes_file_has_every_bridged_route() {
    let config = load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../routes.yaml")).unwrap();
    let grpc_routes: Vec<_> = config
        .routes
        .iter()
        .filter_map(|route| match &route.action {
            RouteAction::Grpc(grpc) => Some((route.path.as_str().to_owned(), grpc.mode.clone())),
            _ => None,
        })
        .collect();
    let kind_at = |path: &str| {
        grpc_routes
            .iter()
            .find(|(p, _)| p == path)
            .and_then(|(_, mode)| match mode {
                GrpcMode::Transcode(t) => Some(t.kind),
                GrpcMode::Passthrough => None,
            })
    };
    assert_eq!(kind_at("/grpc/v1/orders/{order_id}"), Some(CallKind::Unary));
    assert_eq!(kind_at("/grpc/v1/orders"), Some(CallKind::Unary));
    assert_eq!(
        kind_at("/grpc/v1/orders/{order_id}/watch"),
        Some(CallKind::ServerStreaming)
    );
    assert_eq!(
        kind_at("/grpc/v1/orders:batch"),
        Some(CallKind::ClientStreaming)
    );
    assert_eq!(
        kind_at("/grpc/v1/orders/updates"),
        Some(CallKind::Bidirectional)
    );
    assert!(
        grpc_routes
            .iter()
            .any(|(_, mode)| matches!(mode, GrpcMode::Passthrough))
    );
}

#[test]
fn a_proto_that_does_not_compile_is_reported_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.proto"),
        "syntax = \"proto3\";\nmessage A {\n  strin x = 1;\n}\n",
    )
    .unwrap();
    let yaml = format!("grpc:\n  protos: [{}/bad.proto]\n", dir.path().display());
    let message = errors(&yaml);
    assert!(
        message.contains("bad.proto:3:3: proto does not compile"),
        "{message}"
    );
}

#[test]
fn unknown_methods_and_unbound_parameters_are_config_errors() {
    let routes = "  - path: /x/{order_id}\n    method: GET\n    grpc:\n      backend: orders-grpc\n      method: orders.OrderService/GetOrdr\n  - path: /y/{nope}\n    method: GET\n    grpc:\n      backend: orders-grpc\n      method: orders.OrderService/GetOrder\n";
    let message = errors(&config(routes, ""));
    assert!(message.contains("routes.yaml:10:15: route \"/x/{order_id}\": grpc: service orders.OrderService has no method \"GetOrdr\""), "{message}");
    assert!(
        message.contains("path parameter {nope} matches no field of orders.GetOrderRequest"),
        "{message}"
    );
}

#[test]
fn a_grpc_method_needs_the_section_and_one_action() {
    let route = "routes:\n  - path: /x\n    grpc:\n      backend: b\n      method: a.B/C\nbackends:\n  b:\n    url: http://127.0.0.1:1\n";
    assert!(
        errors(route).contains("needs a top-level grpc: section"),
        "{}",
        errors(route)
    );
    let both = "  - path: /x\n    backend: orders-grpc\n    grpc:\n      backend: orders-grpc\n      passthrough: true\n";
    assert!(errors(&config(both, "")).contains("set only one of backend and grpc"));
}

#[test]
fn annotation_routes_go_through_the_conflict_check() {
    let clash = "  - path: /grpc/v1/orders/{id}\n    method: GET\n    grpc:\n      backend: orders-grpc\n      passthrough: true\n";
    let annotations = "  annotations:\n    - backend: orders-grpc\n      prefix: /grpc\n";
    let message = errors(&config(clash, annotations));
    assert!(
        message.contains("conflict") || message.contains("/grpc/v1/orders/{order_id}"),
        "{message}"
    );
}

#[test]
fn metadata_and_json_options_are_checked() {
    let extra = "  metadata: [grpc-timeout, x-ok]\n  max_depth: 0\n";
    let message = errors(&config("  []", extra));
    assert!(
        message.contains("\"grpc-timeout\" is reserved"),
        "{message}"
    );
    assert!(
        message.contains("max_depth must be between 1 and 100"),
        "{message}"
    );
}
