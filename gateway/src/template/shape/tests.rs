//! Views: join, allow, deny, rename.

use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::router::Params;
use crate::template::Root;
use crate::template::value::ValueTemplate;

struct Calls;

impl Scope for Calls {
    fn call_index(&self, name: &str) -> Option<usize> {
        ["order", "products", "payment"]
            .iter()
            .position(|call| *call == name)
    }

    fn has_param(&self, name: &str) -> bool {
        name == "id"
    }
}

fn compile(template: Value) -> ValueTemplate {
    let mut errors = Vec::new();
    let mut compiled = ValueTemplate::compile(&template, &mut Vec::new(), &mut errors);
    compiled.resolve(&Calls, &mut Vec::new(), &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    compiled
}

fn errors_of(template: Value) -> Vec<TemplateError> {
    let mut errors = Vec::new();
    let mut compiled = ValueTemplate::compile(&template, &mut Vec::new(), &mut errors);
    compiled.resolve(&Calls, &mut Vec::new(), &mut errors);
    errors
}

fn results() -> Vec<Option<Arc<Value>>> {
    let order = json!({"id": "o1", "status": "shipped", "secret": "x", "customer_id": "c1",
        "items": [{"product_id": "p2", "quantity": 1}, {"product_id": "p1", "quantity": 2}, {"product_id": "p9", "quantity": 1}]});
    let products =
        json!({"items": [{"id": "p1", "name": "Widget"}, {"id": "p2", "name": "Gadget"}]});
    vec![Some(Arc::new(order)), Some(Arc::new(products)), None]
}

fn render(template: Value) -> Value {
    let params = Params::from_iter([("id", "o1")]);
    let results = results();
    let bindings = Bindings {
        params: &params,
        results: &results,
    };
    compile(template)
        .render(&bindings, crate::template::value::Strictness::Lenient)
        .unwrap()
}

#[test]
fn picks_renames_and_nests_fields() {
    let shaped = render(json!({
        "orderId": "{order.id}",
        "summary": {"state": "{order.status}", "label": "Order {order.id} ({id})"},
        "first_quantity": "{order.items[0].quantity}",
        "literal": 3
    }));
    assert_eq!(
        shaped,
        json!({"orderId": "o1", "summary": {"state": "shipped", "label": "Order o1 (o1)"}, "first_quantity": 1, "literal": 3})
    );
}

#[test]
fn joins_arrays_by_key_with_null_for_no_match() {
    let shaped = render(json!({"items": {
        "$from": "{order.items}",
        "$join": {"with": "{products.items}", "on": "product_id", "as": "product"}
    }}));
    let names: Vec<Value> = shaped["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["product"]["name"].clone())
        .collect();
    assert_eq!(names, [json!("Gadget"), json!("Widget"), Value::Null]);
}

#[test]
fn allow_deny_and_rename_apply_in_order() {
    let allowed = render(
        json!({"o": {"$from": "{order}", "$allow": ["id", "status", "missing"], "$rename": {"status": "state"}}}),
    );
    assert_eq!(allowed, json!({"o": {"id": "o1", "state": "shipped"}}));
    let denied =
        render(json!({"o": {"$from": "{order}", "$deny": ["secret", "items", "customer_id"]}}));
    assert_eq!(denied, json!({"o": {"id": "o1", "status": "shipped"}}));
    let each = render(json!({"o": {"$from": "{order.items}", "$allow": ["quantity"]}}));
    assert_eq!(
        each,
        json!({"o": [{"quantity": 1}, {"quantity": 2}, {"quantity": 1}]})
    );
}

#[test]
fn failed_calls_and_missing_fields_render_as_null() {
    let shaped = render(
        json!({"payment": "{payment}", "status": "{payment.status}", "v": {"$from": "{payment}", "$deny": ["x"]}}),
    );
    assert_eq!(shaped, json!({"payment": null, "status": null, "v": null}));
}

#[test]
fn literal_dollar_keys_are_escaped() {
    assert_eq!(render(json!({"$$schema": "x"})), json!({"$schema": "x"}));
}

#[test]
fn view_mistakes_are_located() {
    let errors = errors_of(json!({"items": {"$from": "{order.items}", "$jion": {}}}));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].at, ["items", "$jion"]);
    assert!(
        errors[0].message.contains("unknown key `$jion`"),
        "{}",
        errors[0].message
    );
    let errors = errors_of(
        json!({"a": {"$from": "{order.items}", "$join": {"with": "{prodcts.items}", "on": "x", "as": "y"}}}),
    );
    assert_eq!(errors[0].at, ["a", "$join"]);
    assert!(
        errors[0].message.contains("`prodcts`"),
        "{}",
        errors[0].message
    );
    let errors = errors_of(json!({"a": {"$join": {}}}));
    assert!(
        errors[0].message.contains("only allowed next to `$from`"),
        "{}",
        errors[0].message
    );
    let errors = errors_of(json!({"list": [1, "{nope}"]}));
    assert_eq!(errors[0].at, ["list", "1"]);
}

#[test]
fn expressions_are_listed_for_dependencies() {
    let template = compile(
        json!({"a": "{order.id}", "b": {"$from": "{order.items}", "$join": {"with": "{products.items}", "on": "product_id", "as": "p"}}}),
    );
    let calls: Vec<_> = template
        .exprs()
        .iter()
        .filter_map(|expr| expr.call())
        .collect();
    assert_eq!(calls, [0, 0, 1]);
    assert!(matches!(
        template.exprs()[0].root,
        Root::Call { index: 0, .. }
    ));
}
