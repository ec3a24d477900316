//! `compose:` config errors point at their line and column.

use crate::config::load_str;
use crate::config::model::RouteAction;

const HEAD: &str = "backends:
  orders: { url: http://127.0.0.1:1 }
  users: { url: http://127.0.0.1:2 }
routes:
";

fn errors(routes: &str) -> String {
    match load_str(&format!("{HEAD}{routes}"), "routes.yaml") {
        Ok(_) => panic!("config accepted"),
        Err(errors) => errors.to_string(),
    }
}

#[test]
fn a_valid_composition_compiles_to_a_plan() {
    let config = load_str(
        &format!(
            "{HEAD}  - path: /v1/orders/{{id}}/details
    compose:
      calls:
        order: {{ backend: orders, path: \"/v1/orders/{{id}}\" }}
        customer: {{ backend: users, path: \"/v1/users/{{order.customer_id}}\", optional: true, timeout: 150ms }}
      response:
        id: \"{{order.id}}\"
        who: {{ $from: \"{{customer}}\", $allow: [name] }}
"
        ),
        "routes.yaml",
    )
    .unwrap_or_else(|errors| panic!("{errors}"));
    let RouteAction::Compose(plan) = &config.routes[0].action else {
        panic!("not compose")
    };
    assert_eq!(plan.calls.len(), 2);
    assert_eq!(plan.graph.dependents[0], [1]);
    assert!(plan.calls[1].optional);
    assert_eq!(plan.calls[1].timeout, std::time::Duration::from_millis(150));
}

#[test]
fn a_cycle_is_reported_at_its_first_call() {
    let message = errors(
        "  - path: /x
    compose:
      calls:
        a: { backend: orders, path: \"/a/{b.id}\" }
        b: { backend: orders, path: \"/b/{a.id}\" }
",
    );
    assert_eq!(
        message.trim(),
        "routes.yaml:8:9: route \"/x\": compose: call \"a\": calls form a cycle: a -> b -> a"
    );
}

#[test]
fn unknown_references_and_backends_are_each_reported_with_their_position() {
    let message = errors(
        "  - path: /v1/orders/{id}/details
    compose:
      calls:
        order: { backend: orders, path: \"/v1/orders/{idd}\" }
        customer: { backend: user, path: \"/v1/users/{order.customer_id}\" }
      response:
        id: \"{order.id}\"
        name: \"{custmer.name}\"
        items:
          $from: \"{order.items}\"
          $join: { with: \"{products.items}\", on: product_id, as: product }
",
    );
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines.len(), 4, "{message}");
    assert!(
        lines[0].starts_with(
            "routes.yaml:8:41: route \"/v1/orders/{id}/details\": compose: call \"order\":"
        ),
        "{message}"
    );
    assert!(lines[0].contains("`{idd}` names `idd`"), "{message}");
    assert!(
        lines[1].starts_with("routes.yaml:9:30:") && lines[1].contains("unknown backend \"user\""),
        "{message}"
    );
    assert!(
        lines[2].starts_with("routes.yaml:12:15:") && lines[2].contains("`custmer`"),
        "{message}"
    );
    assert!(
        lines[3].starts_with("routes.yaml:15:18:") && lines[3].contains("`products`"),
        "{message}"
    );
}

#[test]
fn unknown_call_keys_are_rejected() {
    let message = errors(
        "  - path: /x
    compose:
      calls:
        a: { backend: orders, path: /a, retries: 3 }
",
    );
    assert!(message.contains("unknown key \"retries\""), "{message}");
}

#[test]
fn compose_and_backend_are_exclusive() {
    let message = errors(
        "  - path: /x
    backend: orders
    compose:
      calls:
        a: { backend: orders, path: /a }
",
    );
    assert!(
        message.contains("routes.yaml:8:")
            && message.contains("set only one of backend and compose"),
        "{message}"
    );
}
