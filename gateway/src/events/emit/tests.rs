use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::config::load_str;
use crate::config::model::GatewayConfig;

const CONFIG: &str = r#"
backends:
  orders: { url: http://127.0.0.1:1 }
events:
  topics:
    orders: { default_source: /orders }
routes:
  - path: /v1/orders/{id}/status
    method: PATCH
    backend: orders
    emit:
      - topic: orders
        type: OrderShipped
        when: { value: "{request.status}", equals: shipped }
        subject: "{id}"
        source: /orders-service
        data: { order_id: "{id}", status: "{response.status}", missing: "{response.nope}" }
  - path: /v1/orders
    method: POST
    backend: orders
    emit:
      - { topic: orders, type: OrderPlaced, subject: "{response.id}" }
"#;

fn config() -> GatewayConfig {
    load_str(CONFIG, "routes.yaml").unwrap_or_else(|errors| panic!("{errors}"))
}

fn json(value: serde_json::Value) -> Arc<serde_json::Value> {
    Arc::new(value)
}

#[test]
fn an_event_is_built_from_the_path_the_request_and_the_response() {
    let config = config();
    let spec = &config.routes[0].emit[0];
    let params = Params::from_iter([("id", "o-7")]);
    let request = json(json!({"status": "shipped"}));
    let response = json(json!({"status": "SHIPPED"}));
    let event = render(
        spec,
        &EmitInputs {
            params: &params,
            request: Some(&request),
            response: Some(&response),
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        },
    )
    .unwrap()
    .expect("when holds");
    assert_eq!(event.event_type, "OrderShipped");
    assert_eq!(event.source, "/orders-service");
    assert_eq!(event.subject.as_deref(), Some("o-7"));
    assert_eq!(
        event.data,
        Some(json!({"order_id": "o-7", "status": "SHIPPED", "missing": null}))
    );
    assert_eq!(event.datacontenttype.as_deref(), Some("application/json"));
    assert_eq!(
        event.extensions["traceparent"],
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    );
    assert!(uuid::Uuid::parse_str(&event.id).is_ok(), "{}", event.id);
    let time = event.time.unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(&time).is_ok(),
        "{time}"
    );
    assert!(spec.reads_request(), "its `when` reads the request");
}

#[test]
fn when_decides_and_a_missing_value_means_no_event() {
    let config = config();
    let spec = &config.routes[0].emit[0];
    let params = Params::from_iter([("id", "o-7")]);
    for request in [json!({"status": "cancelled"}), json!({}), json!([1])] {
        let request = json(request);
        let inputs = EmitInputs {
            params: &params,
            request: Some(&request),
            response: None,
            traceparent: None,
        };
        assert_eq!(render(spec, &inputs).unwrap(), None, "{request}");
    }
    let no_body = EmitInputs {
        params: &params,
        request: None,
        response: None,
        traceparent: None,
    };
    assert_eq!(render(spec, &no_body).unwrap(), None);
}

#[test]
fn without_data_the_event_carries_the_whole_response() {
    let config = config();
    let spec = &config.routes[1].emit[0];
    assert!(!spec.reads_request());
    let params = Params::default();
    let response = json(json!({"id": "o-9", "customer_id": "c-1", "total": 12.5}));
    let event = render(
        spec,
        &EmitInputs {
            params: &params,
            request: None,
            response: Some(&response),
            traceparent: None,
        },
    )
    .unwrap()
    .unwrap();
    assert_eq!(event.source, "/orders", "the topic's default source");
    assert_eq!(event.subject.as_deref(), Some("o-9"));
    assert_eq!(event.data.as_ref(), Some(response.as_ref()));
    assert!(!event.extensions.contains_key("traceparent"));
}

#[test]
fn a_subject_that_is_not_text_is_an_error() {
    let config = config();
    let spec = &config.routes[1].emit[0];
    let params = Params::default();
    let response = json(json!({"id": {"nested": true}}));
    let inputs = EmitInputs {
        params: &params,
        request: None,
        response: Some(&response),
        traceparent: None,
    };
    assert!(render(spec, &inputs).is_err());
}
