//! Evaluation and rendering against request values.

use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::template::{Expr, Root, StringTemplate};

struct Fixture {
    params: Params,
    results: Vec<Option<Arc<Value>>>,
}

fn fixture() -> Fixture {
    let order = json!({
        "id": "o 1",
        "customer_id": "c/1",
        "items": [{"product_id": "p1", "quantity": 2}, {"product_id": "p2", "quantity": 1}],
        "total": 59.98,
        "note": null
    });
    Fixture {
        params: Params::from_iter([("id", "o%201")]),
        results: vec![Some(Arc::new(order)), None],
    }
}

fn resolved(text: &str) -> StringTemplate {
    let mut template = StringTemplate::parse(text).unwrap();
    for expr in template.exprs_mut() {
        let Root::Name(name) = &expr.root else {
            unreachable!()
        };
        expr.root = match name.as_str() {
            "order" => Root::Call {
                index: 0,
                name: "order".into(),
            },
            "payment" => Root::Call {
                index: 1,
                name: "payment".into(),
            },
            other => Root::Param(other.into()),
        };
    }
    template
}

fn expr(text: &str) -> Expr {
    resolved(&format!("{{{text}}}"))
        .as_single_expr()
        .unwrap()
        .clone()
}

#[test]
fn url_rendering_encodes_values_and_keeps_params_raw() {
    let f = fixture();
    let b = Bindings {
        params: &f.params,
        results: &f.results,
    };
    assert_eq!(
        b.render(&resolved("/v1/users/{order.customer_id}"), Target::Url)
            .unwrap(),
        "/v1/users/c%2F1"
    );
    assert_eq!(
        b.render(&resolved("/v1/orders/{id}"), Target::Url).unwrap(),
        "/v1/orders/o%201"
    );
    assert_eq!(
        b.render(
            &resolved("/p?ids={order.items[*].product_id|join}"),
            Target::Url
        )
        .unwrap(),
        "/p?ids=p1,p2"
    );
    assert_eq!(b.render(&resolved("{id}"), Target::Text).unwrap(), "o 1");
}

#[test]
fn values_keep_their_json_type() {
    let f = fixture();
    let b = Bindings {
        params: &f.params,
        results: &f.results,
    };
    assert_eq!(b.value(&expr("order.total")), Some(json!(59.98)));
    assert_eq!(
        b.value(&expr("order.items[*].quantity")),
        Some(json!([2, 1]))
    );
    assert_eq!(
        b.value(&expr("order.items[1].product_id")),
        Some(json!("p2"))
    );
    assert_eq!(
        b.value(&expr("order.items[*].quantity|join")),
        Some(json!("2,1"))
    );
}

#[test]
fn missing_values_are_none_or_named_errors() {
    let f = fixture();
    let b = Bindings {
        params: &f.params,
        results: &f.results,
    };
    assert_eq!(b.value(&expr("order.note")), None);
    assert_eq!(b.value(&expr("order.items[9]")), None);
    let error = b
        .render(&resolved("/x/{order.nope}"), Target::Url)
        .unwrap_err();
    assert!(
        error.to_string().contains("`{order.nope}` has no value"),
        "{error}"
    );
    let error = b
        .render(&resolved("/x/{payment.id}"), Target::Url)
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("the call it reads has no result"),
        "{error}"
    );
}

#[test]
fn arrays_need_join_in_strings() {
    let f = fixture();
    let b = Bindings {
        params: &f.params,
        results: &f.results,
    };
    let error = b
        .render(&resolved("/x?ids={order.items[*].product_id}"), Target::Url)
        .unwrap_err();
    assert!(
        matches!(
            error,
            EvalError::NotScalar {
                kind: "an array",
                ..
            }
        ),
        "{error}"
    );
}
