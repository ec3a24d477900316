//! Reading `google.api.http` annotations from method options.
//!
//! The extension is read dynamically: the pool knows `google.api.http`
//! because the protos import google/api/annotations.proto, so
//! `method.options().get_extension(..)` yields the `HttpRule` as a
//! `DynamicMessage`. `additional_bindings` become more rules.

use http::Method;
use prost_reflect::{DynamicMessage, MethodDescriptor, Value};

/// The extension's full name.
pub const HTTP_EXTENSION: &str = "google.api.http";

/// One HTTP binding of a method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRule {
    pub method: Method,
    /// The path template, as written.
    pub template: String,
    /// `None`: no body; `Some("*")`: the whole message; else one field.
    pub body: Option<String>,
}

/// Every binding a method's annotation declares (none if unannotated).
pub fn http_rules(method: &MethodDescriptor) -> Result<Vec<HttpRule>, String> {
    let pool = method.parent_pool();
    let Some(extension) = pool.get_extension_by_name(HTTP_EXTENSION) else {
        return Ok(Vec::new());
    };
    let options = method.options();
    if !options.has_extension(&extension) {
        return Ok(Vec::new());
    }
    let Value::Message(rule) = options.get_extension(&extension).into_owned() else {
        return Err("google.api.http is not an HttpRule".into());
    };
    let mut rules = vec![read_rule(&rule)?];
    if let Some(Value::List(extra)) = field(&rule, "additional_bindings") {
        for binding in extra.iter().filter_map(Value::as_message) {
            rules.push(read_rule(binding)?);
        }
    }
    Ok(rules)
}

fn field(rule: &DynamicMessage, name: &str) -> Option<Value> {
    rule.has_field_by_name(name)
        .then(|| rule.get_field_by_name(name).map(|v| v.into_owned()))
        .flatten()
}

fn text(rule: &DynamicMessage, name: &str) -> Option<String> {
    field(rule, name)
        .and_then(|v| v.as_str().map(str::to_owned))
        .filter(|s| !s.is_empty())
}

fn read_rule(rule: &DynamicMessage) -> Result<HttpRule, String> {
    if text(rule, "response_body").is_some() {
        return Err("google.api.http response_body is not supported; the whole response message is returned".into());
    }
    let (method, template) = verb_and_template(rule)?;
    Ok(HttpRule {
        method,
        template,
        body: text(rule, "body"),
    })
}

fn verb_and_template(rule: &DynamicMessage) -> Result<(Method, String), String> {
    let verbs = [
        ("get", Method::GET),
        ("put", Method::PUT),
        ("post", Method::POST),
        ("delete", Method::DELETE),
        ("patch", Method::PATCH),
    ];
    for (name, method) in verbs {
        if let Some(template) = text(rule, name) {
            return Ok((method, template));
        }
    }
    if let Some(Value::Message(custom)) = field(rule, "custom") {
        let kind = text(&custom, "kind").unwrap_or_default();
        let method = Method::from_bytes(kind.as_bytes())
            .map_err(|_| format!("custom HTTP method {kind:?} is not a method"))?;
        let template = text(&custom, "path").ok_or("custom binding has no path")?;
        return Ok((method, template));
    }
    Err("google.api.http sets no method and path (get, put, post, delete, patch or custom)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protos::descriptors::{compile_protos, find_method};

    #[test]
    fn reads_the_orders_annotations() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
        let pool = compile_protos(&[dir.join("orders.proto")], std::slice::from_ref(&dir)).unwrap();
        let get = http_rules(&find_method(&pool, "orders.OrderService/GetOrder").unwrap()).unwrap();
        assert_eq!(
            get,
            vec![HttpRule {
                method: Method::GET,
                template: "/v1/orders/{order_id}".into(),
                body: None
            }]
        );
        let create =
            http_rules(&find_method(&pool, "orders.OrderService/CreateOrder").unwrap()).unwrap();
        assert_eq!(
            create,
            vec![HttpRule {
                method: Method::POST,
                template: "/v1/orders".into(),
                body: Some("*".into())
            }]
        );
        assert!(
            http_rules(&find_method(&pool, "orders.OrderService/WatchOrder").unwrap())
                .unwrap()
                .is_empty()
        );
    }
}
