//! Streaming a topic to clients (issue 14, capability 5): `GET` on a
//! `publish:` route through the real gateway. Over SSE each event is one
//! message with `id:` = its position in the log, `event:` = its type and
//! `data:` = the CloudEvent; a reconnect with `Last-Event-ID` gets exactly
//! the events after it from the durable log (published while the client
//! was away too): no gap, no duplicate. `subject=` filters; WebSocket
//! streams the same as text frames; a bad `Last-Event-ID` is 400
//! `BAD_LAST_EVENT_ID`; a topic's `max_streams` is enforced with 503
//! `TOO_MANY_STREAMS`; the drain ends streams with `SHUTTING_DOWN`; and the
//! same resume works against the NATS JetStream store.

use futures::StreamExt;
use serde_json::{Value, json};
use tests::gateway::{TestGateway, eventually};
use tests::grpc::StreamReader;
use tests::mocks::within;
use tests::nats_server::NatsServer;
use tokio_tungstenite::tungstenite::Message;

const PATH: &str = "/v1/events/orders";

fn config(store: &str, max_streams: usize) -> String {
    format!(
        r#"
events:
{store}
  topics:
    orders: {{ max_event_bytes: 4KiB, default_source: /orders, max_streams: {max_streams} }}
routes:
  - path: {PATH}
    publish: orders
"#
    )
}

async fn embedded(max_streams: usize) -> TestGateway {
    TestGateway::start(&config("", max_streams)).await
}

/// Publishes `{type, subject}`; returns the position the gateway answered.
async fn publish(gw: &TestGateway, event_type: &str, subject: &str) -> u64 {
    let response = gw
        .client
        .post(gw.url(PATH))
        .json(&json!({"type": event_type, "subject": subject, "data": {"n": subject}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    body["position"].as_u64().expect("a position")
}

async fn open_sse(gw: &TestGateway, query: &str, last_event_id: Option<u64>) -> StreamReader {
    let mut request = gw
        .client
        .get(gw.url(&format!("{PATH}{query}")))
        .header("accept", "text/event-stream");
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id.to_string());
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    StreamReader::sse(response)
}

/// One SSE message's fields.
#[derive(Debug)]
struct SseMessage {
    id: Option<u64>,
    event: Option<String>,
    data: Value,
}

async fn next_message(reader: &mut StreamReader) -> SseMessage {
    loop {
        let text = within("an SSE message", reader.next())
            .await
            .expect("the stream goes on");
        if text.lines().all(|line| line.starts_with(':')) {
            continue; // a heartbeat
        }
        let field = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(&format!("{name}: ")))
                .map(str::to_owned)
        };
        return SseMessage {
            id: field("id").map(|id| id.parse().expect("a numeric id")),
            event: field("event"),
            data: serde_json::from_str(&field("data").expect("a data line")).expect("JSON data"),
        };
    }
}

/// The next `count` messages as `(id, subject)`.
async fn ids_and_subjects(reader: &mut StreamReader, count: usize) -> Vec<(u64, String)> {
    let mut seen = Vec::new();
    for _ in 0..count {
        let message = next_message(reader).await;
        assert_eq!(
            message.event.as_deref(),
            message.data["type"].as_str(),
            "event: is the type"
        );
        seen.push((
            message.id.expect("an event has an id"),
            message.data["subject"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ));
    }
    seen
}

#[tokio::test]
async fn sse_streams_events_published_after_connecting_in_order_with_their_positions() {
    let gw = embedded(10).await;
    publish(&gw, "OrderPlaced", "before").await;
    let mut stream = open_sse(&gw, "", None).await;
    let mut positions = Vec::new();
    for subject in ["o-1", "o-2", "o-3"] {
        positions.push((
            publish(&gw, "OrderPlaced", subject).await,
            subject.to_owned(),
        ));
    }
    let first = next_message(&mut stream).await;
    assert_eq!(first.event.as_deref(), Some("OrderPlaced"));
    assert_eq!(first.data["specversion"], "1.0");
    assert_eq!(first.data["source"], "/orders");
    let mut seen = vec![(
        first.id.unwrap(),
        first.data["subject"].as_str().unwrap().to_owned(),
    )];
    seen.extend(ids_and_subjects(&mut stream, 2).await);
    assert_eq!(
        seen, positions,
        "the live end: nothing from before, in order"
    );
}

#[tokio::test]
async fn a_reconnect_with_last_event_id_gets_exactly_the_events_after_it() {
    let gw = embedded(10).await;
    let mut stream = open_sse(&gw, "?from=earliest", None).await;
    for n in 1..=3 {
        publish(&gw, "OrderPlaced", &format!("o-{n}")).await;
    }
    let seen = ids_and_subjects(&mut stream, 2).await;
    let last_id = seen.last().unwrap().0;
    drop(stream);
    // While the client is away.
    for n in 4..=5 {
        publish(&gw, "OrderPlaced", &format!("o-{n}")).await;
    }
    // An EventSource reconnects to the same URL with Last-Event-ID: the
    // header wins over `from`.
    let mut resumed = open_sse(&gw, "?from=earliest", Some(last_id)).await;
    let after = publish(&gw, "OrderShipped", "o-6").await;
    let rest = ids_and_subjects(&mut resumed, 4).await;
    let subjects: Vec<&str> = rest.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(
        subjects,
        ["o-3", "o-4", "o-5", "o-6"],
        "no gap, no duplicate"
    );
    let ids: Vec<u64> = rest.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, (last_id + 1..=after).collect::<Vec<_>>());
    // The query parameter resumes the same way.
    let mut by_query = open_sse(&gw, &format!("?last_event_id={}", after - 1), None).await;
    assert_eq!(
        ids_and_subjects(&mut by_query, 1).await,
        [(after, "o-6".to_owned())]
    );
}

#[tokio::test]
async fn a_resume_into_expired_or_unknown_positions_is_told_with_a_gap_message() {
    let yaml = config("", 10).replace("max_streams: 10", "max_streams: 10, max_events: 3");
    let gw = TestGateway::start(&yaml).await;
    let mut last = 0;
    for n in 1..=6 {
        last = publish(&gw, "OrderPlaced", &format!("o-{n}")).await;
    }
    // Events 2 and 3 were removed by `max_events: 3`.
    let mut expired = open_sse(&gw, "", Some(last - 5)).await;
    let gap = next_message(&mut expired).await;
    assert_eq!((gap.event.as_deref(), gap.id), (Some("gap"), None));
    assert_eq!(gap.data["code"], "EVENTS_EXPIRED");
    assert_eq!(gap.data["resumes_at"], last - 2);
    assert_eq!(
        ids_and_subjects(&mut expired, 1).await,
        [(last - 2, "o-4".to_owned())]
    );
    // A position this log never reached (another store's): from the oldest kept.
    let mut unknown = open_sse(&gw, "", Some(last + 100)).await;
    let gap = next_message(&mut unknown).await;
    assert_eq!(gap.data["code"], "POSITION_PAST_END");
    assert_eq!(next_message(&mut unknown).await.id, Some(last - 2));
}

#[tokio::test]
async fn a_subject_filter_streams_one_orders_events_only() {
    let gw = embedded(10).await;
    let mut watch = open_sse(&gw, "?subject=o-7&from=earliest", None).await;
    let mut shipped_only = open_sse(&gw, "?subject=o-7&type=OrderShipped", None).await;
    let placed = publish(&gw, "OrderPlaced", "o-7").await;
    publish(&gw, "OrderPlaced", "o-8").await;
    let shipped = publish(&gw, "OrderShipped", "o-7").await;
    assert_eq!(
        ids_and_subjects(&mut watch, 2).await,
        [(placed, "o-7".to_owned()), (shipped, "o-7".to_owned())]
    );
    assert_eq!(
        ids_and_subjects(&mut shipped_only, 1).await,
        [(shipped, "o-7".to_owned())]
    );
}

#[tokio::test]
async fn a_websocket_streams_text_frames_and_resumes_by_query() {
    let gw = embedded(10).await;
    let first = publish(&gw, "OrderPlaced", "o-1").await;
    let second = publish(&gw, "OrderPlaced", "o-2").await;
    let url = format!(
        "ws://{}{PATH}?last_event_id={first}&subject=o-2&subject=o-3",
        gw.gateway.addr
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let third = publish(&gw, "OrderShipped", "o-3").await;
    let mut frames = Vec::new();
    for _ in 0..2 {
        match within("a frame", socket.next()).await {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(&text).unwrap();
                frames.push((
                    frame["position"].as_u64().unwrap(),
                    frame["event"]["type"].as_str().unwrap().to_owned(),
                ));
            }
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
    assert_eq!(
        frames,
        [
            (second, "OrderPlaced".to_owned()),
            (third, "OrderShipped".to_owned())
        ]
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_holds_up_no_other_stream() {
    use tokio::io::AsyncWriteExt;
    let gw = embedded(10).await;
    // A small receive buffer, and nothing ever read: the gateway's writes
    // to it stall within a few events.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(gw.gateway.addr).await.unwrap();
    stalled
        .write_all(
            format!("GET {PATH} HTTP/1.1\r\nhost: gw\r\naccept: text/event-stream\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut reader = open_sse(&gw, "", None).await;
    eventually("both streams are open", || async {
        let metrics = tests::metrics::scrape(&gw).await;
        metrics.value("gateway_event_streams", &[("topic", "orders")]) == 2.0
    })
    .await;
    let padding = "x".repeat(3000);
    let mut last = 0;
    for n in 0..150 {
        let response = gw
            .client
            .post(gw.url(PATH))
            .json(&json!({"type": "OrderPlaced", "subject": format!("o-{n}"), "data": padding}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        last = response.json::<Value>().await.unwrap()["position"]
            .as_u64()
            .unwrap();
    }
    // 450 KB went to the reading client while the other one read nothing.
    let seen = ids_and_subjects(&mut reader, 150).await;
    assert_eq!(seen.last().unwrap(), &(last, "o-149".to_owned()));
    drop(stalled);
}

#[tokio::test]
async fn a_bad_last_event_id_or_position_is_400_with_its_code() {
    let gw = embedded(10).await;
    for (header, query, code) in [
        (Some("abc"), "", "BAD_LAST_EVENT_ID"),
        (Some("-1"), "", "BAD_LAST_EVENT_ID"),
        (None, "?last_event_id=1.5", "BAD_LAST_EVENT_ID"),
        (None, "?from=oldest", "BAD_STREAM_POSITION"),
        (None, "?subject=", "BAD_STREAM_FILTER"),
    ] {
        let mut request = gw.client.get(gw.url(&format!("{PATH}{query}")));
        if let Some(id) = header {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 400, "{header:?} {query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(body["error"]["request_id"].is_string());
    }
    let refused = gw
        .client
        .get(gw.url(PATH))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 406);
}

#[tokio::test]
async fn streams_past_the_topics_max_streams_get_503_until_one_ends() {
    let gw = embedded(2).await;
    let first = open_sse(&gw, "", None).await;
    let _second = open_sse(&gw, "", None).await;
    let metrics = tests::metrics::scrape(&gw).await;
    assert_eq!(
        metrics.value("gateway_event_streams", &[("topic", "orders")]),
        2.0
    );
    let refused = gw.client.get(gw.url(PATH)).send().await.unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "TOO_MANY_STREAMS");
    drop(first);
    eventually("the closed stream's slot comes free", || async {
        let again = gw.client.get(gw.url(PATH)).send().await.unwrap();
        again.status() == 200
    })
    .await;
}

#[tokio::test]
async fn the_drain_ends_an_sse_stream_with_shutting_down_and_a_websocket_with_1001() {
    let gw = embedded(10).await;
    let mut sse = open_sse(&gw, "", None).await;
    let url = format!("ws://{}{PATH}", gw.gateway.addr);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let position = publish(&gw, "OrderPlaced", "o-1").await;
    assert_eq!(next_message(&mut sse).await.id, Some(position));
    within("the event frame", socket.next())
        .await
        .unwrap()
        .unwrap();
    gw.gateway.begin_shutdown();
    let last = next_message(&mut sse).await;
    assert_eq!((last.event.as_deref(), last.id), (Some("error"), None));
    assert_eq!(last.data["error"]["code"], "SHUTTING_DOWN");
    assert_eq!(within("the end", sse.next()).await, None);
    let close = match within("the close frame", socket.next()).await {
        Some(Ok(Message::Close(Some(frame)))) => frame,
        other => panic!("expected a close frame, got {other:?}"),
    };
    assert_eq!(u16::from(close.code), 1001);
    assert!(
        close.reason.starts_with("SHUTTING_DOWN"),
        "{}",
        close.reason
    );
    assert!(gw.gateway.wait().await, "drained within the grace");
}

#[tokio::test]
async fn the_routes_pipeline_applies_to_a_stream_as_to_a_publish() {
    use sha2::{Digest, Sha256};
    let key_hash = hex::encode(Sha256::digest(b"watcher-key"));
    let yaml = format!(
        r#"
auth:
  api_keys:
    watchers:
      query: api_key
      keys:
        - {{ consumer: browser, sha256: {key_hash} }}
events:
  topics:
    orders: {{}}
routes:
  - path: {PATH}
    publish: orders
    auth: {{ api_keys: watchers }}
"#
    );
    let gw = TestGateway::start(&yaml).await;
    let anonymous = gw.client.get(gw.url(PATH)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    // An EventSource cannot set headers: the key rides in the query.
    let response = gw
        .client
        .get(gw.url(&format!("{PATH}?api_key=watcher-key&from=earliest")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = StreamReader::sse(response);
    let published = gw
        .client
        .post(gw.url(&format!("{PATH}?api_key=watcher-key")))
        .json(&json!({"type": "OrderPlaced", "subject": "o-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 202);
    assert_eq!(ids_and_subjects(&mut stream, 1).await[0].1, "o-1");
}

#[tokio::test]
async fn other_methods_are_405_naming_get_and_post() {
    let gw = embedded(10).await;
    let response = gw.client.put(gw.url(PATH)).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, POST, HEAD");
    let head = gw.client.head(gw.url(PATH)).send().await.unwrap();
    assert_eq!(
        (
            head.status().as_u16(),
            head.headers()["content-type"].to_str().unwrap()
        ),
        (200, "text/event-stream")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_resumes_from_the_nats_jetstream_log_too() {
    let Some(server) = NatsServer::start_or_skip("nats topic stream").await else {
        return;
    };
    let store = format!(
        "  store: {{ kind: nats, url: \"{}\", stream_prefix: STREAMTEST }}",
        server.url()
    );
    let gw = TestGateway::start(&config(&store, 10)).await;
    let mut stream = open_sse(&gw, "", None).await;
    let first = publish(&gw, "OrderPlaced", "o-1").await;
    assert_eq!(
        ids_and_subjects(&mut stream, 1).await,
        [(first, "o-1".to_owned())]
    );
    drop(stream);
    let second = publish(&gw, "OrderPlaced", "o-2").await;
    let mut resumed = open_sse(&gw, "", Some(first)).await;
    let third = publish(&gw, "OrderShipped", "o-3").await;
    assert_eq!(
        ids_and_subjects(&mut resumed, 2).await,
        [(second, "o-2".to_owned()), (third, "o-3".to_owned())]
    );
}
