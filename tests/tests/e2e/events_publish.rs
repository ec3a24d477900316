//! `publish: TOPIC` routes and `async:` routes through the real gateway
//! (issue 14): a POST is stored by the embedded store and answered 202 with
//! the event id, then the delivery engine hands it to a real mock
//! subscriber in the CloudEvents binary HTTP binding; each bad input gets
//! its code and stores nothing; `Idempotency-Key` and the CloudEvents
//! `source` + `id` dedupe; an async route answers 202 + `Location` and
//! `GET /v1/requests/{id}` goes from pending to the backend's own answer.

use std::time::Duration;

use mock_backends::{RecordedDelivery, SubscriberHandle, SubscriberKind};
use serde_json::{Value, json};
use tests::gateway::{TestGateway, eventually};
use tests::mocks::new_order_body;
use tests::mocks::subscriber;
use tests::nats_server::NatsServer;

const WAIT: Duration = Duration::from_secs(10);

/// An embedded store in the test's directory (the default `data_dir`),
/// topic `orders` (1 KiB events), `inventory` subscribed to `OrderPlaced`.
fn publish_config(inventory: &SubscriberHandle) -> String {
    format!(
        r#"
backends:
  inventory: {{ url: "{inventory}" }}
events:
  topics:
    orders: {{ max_event_bytes: 1KiB, default_source: /orders }}
  subscriptions:
    - name: inventory
      topic: orders
      backend: inventory
      path: /events
      types: [OrderPlaced]
      backoff: {{ base: 50ms, max: 200ms }}
      start: earliest
routes:
  - path: /v1/events/orders
    publish: orders
"#,
        inventory = inventory.url()
    )
}

async fn post(gw: &TestGateway, body: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = gw
        .client
        .post(gw.url("/v1/events/orders"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// `event` in the structured mode (`application/cloudevents+json`).
async fn post_structured(gw: &TestGateway, event: &Value) -> (u16, Value) {
    let response = gw
        .client
        .post(gw.url("/v1/events/orders"))
        .header("content-type", "application/cloudevents+json")
        .body(event.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn wait_for(
    handle: &SubscriberHandle,
    condition: impl FnMut(&[RecordedDelivery]) -> bool,
) -> Vec<RecordedDelivery> {
    tokio::time::timeout(WAIT, handle.wait_for(condition))
        .await
        .unwrap_or_else(|_| panic!("no delivery: {:#?}", handle.deliveries()))
}

/// The CloudEvents HTTP binding's binary mode, as the CloudEvents SDKs
/// emit by default: attributes in `ce-*` headers, `data` as the body. The
/// event is stored and delivered like a structured one, its id kept (so a
/// resend dedupes); a bad binary event stores nothing.
#[tokio::test]
async fn a_binary_mode_cloudevent_is_published_like_a_structured_one() {
    let inventory = subscriber(SubscriberKind::Inventory).await;
    let gw = TestGateway::start(&publish_config(&inventory)).await;
    // `post` sends `Content-Type: application/json`: the data's type.
    let binary = [
        ("ce-specversion", "1.0"),
        ("ce-id", "sdk-1"),
        ("ce-source", "/sdk"),
        ("ce-type", "OrderPlaced"),
        ("ce-subject", "o%2D9"),
        ("ce-channel", "web"),
    ];
    let (status, accepted) = post(&gw, r#"{"order_id":"o-9"}"#, &binary).await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["id"], "sdk-1");
    let (status, again) = post(&gw, r#"{"order_id":"o-9"}"#, &binary).await;
    assert_eq!(
        (status, &again["position"]),
        (202, &accepted["position"]),
        "deduped by source and id"
    );

    let delivered = wait_for(&inventory, |d| d.iter().any(|d| d.id == "sdk-1")).await;
    let delivery = delivered.iter().find(|d| d.id == "sdk-1").unwrap();
    assert_eq!(delivery.source, "/sdk");
    assert_eq!(delivery.subject.as_deref(), Some("o-9"));
    assert_eq!(delivery.headers["ce-channel"], "web");
    assert_eq!(delivery.body, json!({"order_id": "o-9"}));

    let mut no_type = binary.to_vec();
    no_type.retain(|(name, _)| *name != "ce-type");
    let (status, refused) = post(&gw, "{}", &no_type).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (400, Some("EVENT_MISSING_TYPE"))
    );
}

/// Data that is neither JSON nor UTF-8 text (here `application/octet-stream`
/// in binary mode, and `data_base64` in a structured event) is stored as
/// the JSON format's `data_base64`, streamed so, and delivered to the
/// subscriber as the exact bytes published, under its media type.
#[tokio::test]
async fn binary_data_is_stored_as_data_base64_and_delivered_as_its_bytes() {
    let inventory = subscriber(SubscriberKind::Inventory).await;
    let gw = TestGateway::start(&publish_config(&inventory)).await;
    let bytes: Vec<u8> = vec![0, 1, 0x7f, 0x80, 0xfe, 0xff, b'"', b'\n'];
    let octets = gw
        .client
        .post(gw.url("/v1/events/orders"))
        .header("content-type", "application/octet-stream")
        .header("ce-specversion", "1.0")
        .header("ce-id", "bin-1")
        .header("ce-source", "/sdk")
        .header("ce-type", "OrderPlaced")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(octets.status(), 202, "{}", octets.text().await.unwrap());
    let structured = json!({"specversion": "1.0", "id": "bin-2", "source": "/sdk",
        "type": "OrderPlaced", "datacontenttype": "image/png", "data_base64": "iVBORw0KGgo="});
    let (status, accepted) = post_structured(&gw, &structured).await;
    assert_eq!(status, 202, "{accepted}");

    let delivered = wait_for(&inventory, |d| {
        ["bin-1", "bin-2"]
            .iter()
            .all(|id| d.iter().any(|d| d.id == *id))
    })
    .await;
    let of = |id: &str| delivered.iter().find(|d| d.id == id).unwrap();
    assert_eq!(of("bin-1").raw_body, bytes);
    assert_eq!(
        of("bin-1").headers["content-type"],
        "application/octet-stream"
    );
    assert_eq!(of("bin-2").raw_body, b"\x89PNG\r\n\x1a\n"[..]);
    assert_eq!(of("bin-2").headers["content-type"], "image/png");

    // The durable log holds them in the JSON format: `data_base64`, no `data`.
    let stream = gw
        .client
        .get(gw.url("/v1/events/orders"))
        .header("accept", "text/event-stream")
        .header("last-event-id", "0")
        .send()
        .await
        .unwrap();
    let mut reader = tests::grpc::StreamReader::sse(stream);
    let mut stored = Vec::new();
    while stored.len() < 2 {
        let message = tests::mocks::within("an SSE message", reader.next())
            .await
            .expect("the stream goes on");
        if let Some(data) = message.lines().find_map(|line| line.strip_prefix("data: ")) {
            stored.push(serde_json::from_str::<Value>(data).unwrap());
        }
    }
    assert_eq!(stored[0]["id"], "bin-1");
    assert_eq!(stored[0]["data_base64"], "AAF/gP7/Igo=");
    assert_eq!(stored[0]["datacontenttype"], "application/octet-stream");
    assert_eq!(stored[1]["data_base64"], "iVBORw0KGgo=");
    assert!(stored.iter().all(|event| event.get("data").is_none()));

    // Invalid Base64, or both kinds of data, are refused and store nothing.
    for bad in [
        json!({"specversion": "1.0", "id": "bin-3", "source": "/sdk", "type": "OrderPlaced",
            "data_base64": "not base64"}),
        json!({"specversion": "1.0", "id": "bin-3", "source": "/sdk", "type": "OrderPlaced",
            "data": {"a": 1}, "data_base64": "AAE="}),
    ] {
        let (status, refused) = post_structured(&gw, &bad).await;
        assert_eq!(
            (status, refused["error"]["code"].as_str()),
            (400, Some("EVENT_INVALID")),
            "{refused}"
        );
    }
    let (status, _) = post(
        &gw,
        r#"{"type":"OrderPlaced","id":"bin-4","source":"/sdk"}"#,
        &[],
    )
    .await;
    assert_eq!(status, 202);
    wait_for(&inventory, |d| d.iter().any(|d| d.id == "bin-4")).await;
    assert!(
        inventory.deliveries().iter().all(|d| d.id != "bin-3"),
        "a refused event is never stored, so never delivered before a later one"
    );
}

#[tokio::test]
async fn a_published_event_is_acknowledged_then_delivered_to_the_subscriber() {
    let inventory = subscriber(SubscriberKind::Inventory).await;
    let gw = TestGateway::start(&publish_config(&inventory)).await;
    let event = json!({"type": "OrderPlaced", "subject": "o-1",
        "data": {"order_id": "o-1", "items": [{"product_id": "p-1", "quantity": 2}]}});
    let (status, accepted) = post(&gw, &event.to_string(), &[]).await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["topic"], "orders");
    assert_eq!(accepted["position"], 1);
    let id = accepted["id"].as_str().unwrap().to_owned();

    let delivered = wait_for(&inventory, |d| d.iter().any(|d| d.id == id)).await;
    let delivery = delivered.iter().find(|d| d.id == id).unwrap();
    assert_eq!(delivery.event_type, "OrderPlaced");
    assert_eq!(delivery.source, "/orders");
    assert_eq!(delivery.subject.as_deref(), Some("o-1"));
    // Binary binding: the attributes are ce-* headers, the body is `data`.
    assert_eq!(delivery.headers["ce-specversion"], "1.0");
    assert_eq!(delivery.headers["ce-id"], id);
    assert_eq!(delivery.body["order_id"], "o-1");
}

#[tokio::test]
async fn bad_events_get_their_code_and_store_nothing() {
    let inventory = subscriber(SubscriberKind::Inventory).await;
    let gw = TestGateway::start(&publish_config(&inventory)).await;
    let too_large = json!({"type": "OrderPlaced", "data": "x".repeat(2048)}).to_string();
    let cases = [
        ("not json", "{oops".to_owned(), "EVENT_NOT_JSON"),
        (
            "no type",
            json!({"data": {}}).to_string(),
            "EVENT_MISSING_TYPE",
        ),
        ("too large", too_large, "EVENT_TOO_LARGE"),
        (
            "bad CloudEvent",
            json!({"specversion": "0.3", "type": "OrderPlaced", "source": "/x", "id": "1"})
                .to_string(),
            "EVENT_INVALID",
        ),
    ];
    for (what, body, code) in cases {
        let headers: &[(&str, &str)] = if code == "EVENT_INVALID" {
            &[("content-type", "application/cloudevents+json")]
        } else {
            &[]
        };
        let (status, error) = post(&gw, &body, headers).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (400, Some(code)),
            "{what}: {error}"
        );
        assert!(error["error"]["request_id"].is_string(), "{what}: {error}");
    }
    // Nothing was stored: the first good event takes position 1.
    let (status, accepted) = post(&gw, &json!({"type": "OrderPlaced"}).to_string(), &[]).await;
    assert_eq!(
        (status, accepted["position"].as_u64()),
        (202, Some(1)),
        "{accepted}"
    );
    let events = gw
        .gateway
        .snapshot()
        .events
        .clone()
        .unwrap()
        .store()
        .read("orders", 0, 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
}

#[tokio::test]
async fn a_repeated_publish_answers_the_first_id_and_stores_once() {
    let inventory = subscriber(SubscriberKind::Inventory).await;
    let gw = TestGateway::start(&publish_config(&inventory)).await;
    let key = [("idempotency-key", "order-o-7")];
    let (_, first) = post(&gw, &json!({"type": "OrderPlaced"}).to_string(), &key).await;
    let (status, again) = post(&gw, &json!({"type": "OrderShipped"}).to_string(), &key).await;
    assert_eq!(status, 202);
    assert_eq!(
        (&again["id"], &again["position"]),
        (&first["id"], &first["position"])
    );

    // Without a key, the CloudEvents `source` + `id` dedupe.
    let event = json!({"specversion": "1.0", "type": "OrderPlaced", "source": "/shop",
        "id": "evt-1"})
    .to_string();
    let structured = [("content-type", "application/cloudevents+json")];
    let (_, one) = post(&gw, &event, &structured).await;
    let (_, two) = post(&gw, &event, &structured).await;
    assert_eq!(one["id"], "evt-1");
    assert_eq!(
        (&two["id"], &two["position"]),
        (&one["id"], &one["position"])
    );
    assert_eq!(one["position"], 2, "one event stored per key: {one}");
}

#[tokio::test]
async fn an_async_route_answers_202_then_reports_the_backends_answer() {
    let yaml = r#"
backends:
  orders: { url: $ORDERS }
events:
  store: { kind: embedded }
routes:
  - path: /v1/orders
    method: POST
    backend: orders
    async: { backoff: { base: 50ms, max: 200ms }, max_attempts: 100 }
"#;
    let gw = TestGateway::start(yaml).await;
    gw.mocks.orders.control.set_down(true).await;
    let response = gw
        .client
        .post(gw.url("/v1/orders"))
        .header("idempotency-key", "submit-1")
        .json(&new_order_body(1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/v1/requests/"), "{location}");
    let retried = gw
        .client
        .post(gw.url("/v1/orders"))
        .header("idempotency-key", "submit-1")
        .json(&new_order_body(1))
        .send()
        .await
        .unwrap();
    assert_eq!(retried.headers()["location"], location.as_str());

    let pending = gw.client.get(gw.url(&location)).send().await.unwrap();
    assert_eq!(pending.status(), 202);
    let pending: Value = pending.json().await.unwrap();
    assert_eq!(pending["status"], "pending");

    gw.mocks.orders.control.set_down(false).await;
    let url = gw.url(&location);
    eventually("the backend's answer at the Location", || async {
        gw.client.get(&url).send().await.unwrap().status() == 201
    })
    .await;
    let done = gw.client.get(&url).send().await.unwrap();
    let order: Value = done.json().await.unwrap();
    assert_eq!(order["status"], "pending");
    assert!(order["id"].is_string(), "{order}");
}

/// Subscriptions starting at `new` (the default), `inventory` alone or
/// with `notification`; each its own consumer (`queue` mode). `store` is
/// the `events.store` line (empty: the embedded default).
fn start_new_config(
    store: &str,
    inventory: &SubscriberHandle,
    notification: Option<&SubscriberHandle>,
) -> String {
    let mut yaml = format!(
        r#"
backends:
  inventory: {{ url: "{inventory}" }}
  notification: {{ url: "{notification}" }}
events:
{store}
  topics:
    orders: {{ default_source: /orders }}
  subscriptions:
    - {{ name: inventory, topic: orders, backend: inventory, path: /events, mode: queue }}
"#,
        inventory = inventory.url(),
        notification = notification.map_or(inventory.url(), |n| n.url()),
    );
    if notification.is_some() {
        yaml.push_str(
            "    - { name: notification, topic: orders, backend: notification, path: /events, mode: queue }\n",
        );
    }
    yaml.push_str("routes:\n  - path: /v1/events/orders\n    publish: orders\n");
    yaml
}

/// A subscription that starts at `new` exists in the store before its
/// config serves a request: at start, before the listener accepts, and on
/// a reload, before the swap. Made by its delivery worker instead, an
/// event published meanwhile was behind the consumer's start and never
/// delivered to it, although it was acknowledged with 202 (seen as a
/// rare failure of the kill -9 test).
async fn a_subscription_starting_at_new_gets_every_event_acknowledged_under_it(store: &str) {
    let inventory = subscriber(SubscriberKind::Inventory).await;
    let notification = subscriber(SubscriberKind::Notification).await;
    let gw = TestGateway::start_unwatched(&start_new_config(store, &inventory, None)).await;
    let store = std::sync::Arc::clone(
        gw.gateway
            .snapshot()
            .events
            .as_ref()
            .expect("an event bus")
            .store(),
    );
    store
        .pending("orders", "inventory")
        .await
        .expect("inventory's consumer exists once the gateway serves");
    let event = |n: u32| json!({"type": "OrderPlaced", "subject": format!("o-{n}")}).to_string();
    let (status, first) = post(&gw, &event(1), &[]).await;
    assert_eq!(status, 202, "{first}");

    let store_line = store_line_of(&gw);
    gw.update_config(&start_new_config(
        &store_line,
        &inventory,
        Some(&notification),
    ));
    gw.gateway.reload().await.expect("the reload applies");
    store
        .pending("orders", "notification")
        .await
        .expect("notification's consumer exists once the reload returns");
    let (status, second) = post(&gw, &event(2), &[]).await;
    assert_eq!(status, 202, "{second}");

    let ids = |deliveries: &[RecordedDelivery]| {
        deliveries
            .iter()
            .map(|d| d.id.clone())
            .collect::<std::collections::BTreeSet<_>>()
    };
    let (first, second) = (
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
    );
    wait_for(&inventory, |d| {
        ids(d).contains(first) && ids(d).contains(second)
    })
    .await;
    let received = wait_for(&notification, |d| ids(d).contains(second)).await;
    assert!(
        !ids(&received).contains(first),
        "notification starts at new: the event before it was added is not its"
    );
}

/// The `events.store` line of the config `gw` runs (kept by the reload).
fn store_line_of(gw: &TestGateway) -> String {
    std::fs::read_to_string(gw.config_path())
        .unwrap()
        .lines()
        .find(|line| line.trim_start().starts_with("store:"))
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_subscription_starting_at_new_gets_every_event_its_config_acknowledged() {
    a_subscription_starting_at_new_gets_every_event_acknowledged_under_it("").await;
}

#[tokio::test]
async fn on_nats_a_subscription_starting_at_new_gets_every_event_its_config_acknowledged() {
    let Some(server) = NatsServer::start_or_skip("subscription start on nats").await else {
        return;
    };
    let store = format!(
        "  store: {{ kind: nats, urls: [\"{}\"], outbox_dir: outbox }}",
        server.url()
    );
    a_subscription_starting_at_new_gets_every_event_acknowledged_under_it(&store).await;
}
