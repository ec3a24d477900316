//! `events:` and the routes' `publish:`, `emit:` and `async:`: what they
//! compile to, and their mistakes reported at once with their positions.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::model::RouteAction;
use super::model::events::{
    AsyncMode, AsyncSpec, DeliveryMode, EmbeddedStore, StartFrom, StoreSettings, SubscriptionSpec,
    TopicSpec,
};
use super::*;
use crate::router::Params;
use crate::template::eval::Bindings;
use crate::template::value::Strictness;

fn errors_of(source: &str) -> String {
    match load_str(source, "routes.yaml") {
        Ok(_) => panic!("config accepted"),
        Err(errors) => errors.to_string(),
    }
}

fn compiled(source: &str) -> GatewayConfig {
    load_str_in(source, "routes.yaml", Path::new("/srv/gw"))
        .unwrap_or_else(|errors| panic!("config rejected:\n{errors}"))
}

const FULL: &str = r#"
backends:
  orders: { url: http://127.0.0.1:1 }
  inventory: { url: http://127.0.0.1:2 }
events:
  store:
    kind: embedded
    data_dir: var/events
    commit_window: 2ms
  topics:
    orders:
      max_event_bytes: 64KiB
      dedupe_window: 10m
      max_age: 1h
      max_events: 5000
      default_source: /orders
    audit:
  subscriptions:
    - name: inventory
      topic: orders
      backend: inventory
      path: /events
      mode: queue
      types: [OrderPlaced]
      backoff: { base: 100ms, max: 5s }
      max_attempts: 7
      timeout: 2s
      max_in_flight: 4
      ordering: subject
      start: earliest
routes:
  - path: /v1/events/orders
    publish: orders
  - path: /v1/orders/{id}/status
    method: PATCH
    backend: orders
    async: { mode: on_request, order_key: "{id}", max_attempts: 3, result_ttl: 10m }
    emit:
      - topic: orders
        type: OrderShipped
        statuses: [200, 204]
        when: { value: "{request.status}", equals: shipped }
        subject: "{id}"
        source: /orders-service
        data: { order_id: "{id}", status: "{response.status}" }
  - path: /v1/orders
    method: POST
    backend: orders
    async: true
    emit:
      - { topic: audit, type: OrderPlaced }
"#;

#[test]
fn every_key_compiles() {
    let config = compiled(FULL);
    let events = config.events.as_ref().expect("events section");
    assert_eq!(
        events.store,
        StoreSettings::Embedded(EmbeddedStore {
            data_dir: "/srv/gw/var/events".into(),
            commit_window: Duration::from_millis(2),
        })
    );
    let orders = &events.topics["orders"];
    assert_eq!(orders.max_event_bytes, 64 * 1024);
    assert_eq!(orders.dedupe_window, Duration::from_secs(600));
    assert_eq!(orders.max_age, Some(Duration::from_secs(3600)));
    assert_eq!(orders.max_events, Some(5000));
    assert_eq!(orders.default_source, "/orders");
    let audit = &events.topics["audit"];
    assert_eq!(audit.max_event_bytes, TopicSpec::DEFAULT_MAX_EVENT_BYTES);
    assert_eq!(audit.default_source, "/topics/audit");
    assert_eq!(audit.max_age, TopicSpec::DEFAULT_MAX_AGE);

    let subscription = &events.subscriptions[0];
    assert_eq!(subscription.topic.name, "orders");
    assert_eq!(subscription.backend.name, "inventory");
    assert_eq!(subscription.mode, DeliveryMode::Queue);
    assert_eq!(subscription.types, ["OrderPlaced"]);
    assert_eq!(subscription.backoff.base, Duration::from_millis(100));
    assert_eq!(subscription.max_attempts, 7);
    assert_eq!(subscription.timeout, Duration::from_secs(2));
    assert_eq!(subscription.max_in_flight, 4);
    assert!(subscription.ordered_by_subject);
    assert_eq!(subscription.start, StartFrom::Earliest);

    let publish = &config.routes[0];
    let RouteAction::Publish(action) = &publish.action else {
        panic!("not a publish route: {:?}", publish.action);
    };
    assert_eq!(action.topic.name, "orders");
    assert_eq!(
        publish.methods.as_deref(),
        Some(&[http::Method::GET, http::Method::POST][..])
    );

    let status = &config.routes[1];
    let async_spec = status.async_spec.as_ref().expect("async");
    assert_eq!(async_spec.mode, AsyncMode::OnRequest);
    assert_eq!(async_spec.max_attempts, 3);
    assert_eq!(async_spec.result_ttl, Duration::from_secs(600));
    assert!(async_spec.order_key.is_some());
    let emit = &status.emit[0];
    assert_eq!(emit.event_type, "OrderShipped");
    assert_eq!(emit.statuses, [200, 204]);
    assert!(emit.emits_on(204) && !emit.emits_on(201));
    assert_eq!(emit.source.as_deref(), Some("/orders-service"));

    let create = &config.routes[2];
    let defaults = create.async_spec.as_ref().expect("async: true");
    assert_eq!(defaults.mode, AsyncMode::Always);
    assert_eq!(defaults.max_attempts, AsyncSpec::DEFAULT_MAX_ATTEMPTS);
    assert!(create.emit[0].emits_on(201) && !create.emit[0].emits_on(302));
}

#[test]
fn emit_templates_read_the_request_the_response_and_the_path() {
    let config = compiled(FULL);
    let emit = &config.routes[1].emit[0];
    let params = Params::from_iter([("id", "o-7")]);
    let request = Some(std::sync::Arc::new(json!({"status": "shipped"})));
    let response = Some(std::sync::Arc::new(json!({"status": "SHIPPED"})));
    let results = [request, response];
    let bindings = Bindings {
        params: &params,
        results: &results,
    };
    let data = emit.data.render(&bindings, Strictness::Lenient).unwrap();
    assert_eq!(data, json!({"order_id": "o-7", "status": "SHIPPED"}));
    let when = emit.when.as_ref().unwrap();
    let value = bindings
        .render(&when.value, crate::template::eval::Target::Text)
        .unwrap();
    assert_eq!(value, when.equals);
    // No `data:`: the whole response body.
    let whole = config.routes[2].emit[0]
        .data
        .render(&bindings, Strictness::Lenient)
        .unwrap();
    assert_eq!(whole, json!({"status": "SHIPPED"}));
}

#[test]
fn a_blank_section_is_the_embedded_store_with_its_defaults() {
    let config = compiled("events:\n");
    let events = config.events.unwrap();
    assert_eq!(
        events.store,
        StoreSettings::Embedded(EmbeddedStore {
            data_dir: Path::new("/srv/gw").join(EmbeddedStore::DEFAULT_DATA_DIR),
            commit_window: EmbeddedStore::DEFAULT_COMMIT_WINDOW,
        })
    );
    assert!(events.topics.is_empty() && events.subscriptions.is_empty());
    assert!(compiled("listen: 127.0.0.1:1\n").events.is_none());
}

#[test]
fn the_nats_store_compiles() {
    let config = compiled(
        r#"
events:
  store:
    kind: nats
    urls: [nats://127.0.0.1:4222, "nats://10.0.0.2:4222"]
    stream_prefix: edge
    request_timeout: 2s
    outbox_dir: /var/lib/gw/outbox
"#,
    );
    let StoreSettings::Nats(nats) = config.events.unwrap().store else {
        panic!("not nats");
    };
    assert_eq!(nats.urls, ["nats://127.0.0.1:4222", "nats://10.0.0.2:4222"]);
    assert_eq!(nats.stream_prefix, "edge");
    assert_eq!(nats.request_timeout, Duration::from_secs(2));
    assert_eq!(nats.outbox_dir, Path::new("/var/lib/gw/outbox"));
}

#[test]
fn subscription_defaults_are_the_documented_ones() {
    let config = compiled(
        r#"
backends: { b: { url: http://127.0.0.1:1 } }
events:
  topics: { t: }
  subscriptions:
    - { name: s, topic: t, backend: b, path: /hook }
"#,
    );
    let subscription = &config.events.unwrap().subscriptions[0];
    assert_eq!(subscription.mode, DeliveryMode::Fanout);
    assert_eq!(subscription.backoff, SubscriptionSpec::DEFAULT_BACKOFF);
    assert_eq!(
        subscription.max_attempts,
        SubscriptionSpec::DEFAULT_MAX_ATTEMPTS
    );
    assert_eq!(subscription.start, StartFrom::New);
    assert!(!subscription.ordered_by_subject && subscription.types.is_empty());
}

#[test]
fn section_mistakes_are_all_reported_with_their_positions() {
    insta::assert_snapshot!(errors_of(
        r#"
backends:
  inventory: { url: http://127.0.0.1:2 }
events:
  store:
    kind: embedded
    commit_window: 1s
    stream_prefix: x
  topics:
    orders: { max_event_bytes: 2MiB, dedupe_window: 0s, max_events: lots }
    "bad.name":
    payments: { retention: 1h }
  subscriptions:
    - { name: inventory, topic: order, backend: inventry, path: events }
    - { name: inventory, topic: orders, backend: inventory, path: /e, max_attempts: 0, max_in_flight: 0 }
    - { name: typo, topic: orders, backend: inventory, path: /e, mode: broadcast }
  queues: []
"#
    ));
}

#[test]
fn a_nats_store_needs_a_url_and_refuses_embedded_keys() {
    insta::assert_snapshot!(errors_of(
        "events:\n  store: { kind: nats, data_dir: /tmp/x }\n"
    ));
    insta::assert_snapshot!(
        "bad_nats_url",
        errors_of("events:\n  store: { kind: nats, url: \"http://h:1\" }\n")
    );
}

#[test]
fn route_key_mistakes_are_all_reported_with_their_positions() {
    insta::assert_snapshot!(errors_of(
        r#"
backends:
  orders: { url: http://127.0.0.1:1 }
events:
  topics: { orders: }
routes:
  - path: /v1/events/{kind}
    methods: [GET, DELETE]
    publish: order
  - path: /v1/events/two
    publish: orders
    backend: orders
  - path: /v1/events/three
    publish: orders
    timeout: 1s
    rewrite: { strip_prefix: /v1 }
    emit: [{ topic: orders, type: X }]
    async: true
  - path: /v1/orders/{id}
    backend: orders
    emit:
      - topic: ordrs
        type: "{request.type}"
        statuses: [700]
        subject: "{order.id}"
        when: { value: "{request.status", equals: shipped }
        data:
          id: "{id.more}"
          total: "{response.total|sum}"
          who: "{customer.id}"
  - path: /v1/orders
    backend: orders
    async: { mode: sometimes }
  - path: /v1/composed/{id}
    async: true
    compose:
      calls:
        one: { backend: orders, path: "/x/{id}" }
"#
    ));
}

#[test]
fn publish_and_emit_need_an_events_section() {
    insta::assert_snapshot!(errors_of(
        r#"
backends:
  orders: { url: http://127.0.0.1:1 }
routes:
  - path: /v1/events
    publish: orders
  - path: /v1/orders
    backend: orders
    emit: [{ topic: orders, type: OrderPlaced }]
"#
    ));
}

#[test]
fn a_reload_may_not_change_the_store() {
    let current = compiled("events:\n  topics: { orders: }\n");
    let more_topics = compiled("events:\n  topics: { orders:, payments: }\n");
    assert!(check_reload(&more_topics, &current, "routes.yaml").is_ok());
    let moved = compiled("events:\n  store: { data_dir: elsewhere }\n");
    let error = check_reload(&moved, &current, "routes.yaml").unwrap_err();
    assert!(error.to_string().contains("events.store"), "{error}");
    let none = compiled("listen: 127.0.0.1:8080\n");
    assert!(check_reload(&none, &current, "routes.yaml").is_err());
}

#[test]
fn max_streams_is_a_count_above_zero() {
    let config = compiled("events:\n  topics:\n    orders: { max_streams: 5 }\n    audit:\n");
    let topics = &config.events.as_ref().expect("events").topics;
    assert_eq!(topics["orders"].max_streams, 5);
    assert_eq!(topics["audit"].max_streams, TopicSpec::DEFAULT_MAX_STREAMS);
    assert_eq!(
        errors_of(
            "events:\n  topics:\n    orders: { max_streams: 0 }\n    audit: { max_streams: many }\n"
        ),
        "routes.yaml:3:28: topic \"orders\": max_streams: expected a whole number above zero (found \"0\")\n\
         routes.yaml:4:27: topic \"audit\": max_streams: expected a whole number above zero (found \"many\")"
    );
}
