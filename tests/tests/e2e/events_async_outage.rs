//! The seed's temporal-coupling fix under a real outage: with the orders
//! backend down for 5 s under steady load on an `async:` route, every
//! request is acknowledged (202), none is lost, and all reach the backend
//! after it recovers, in submission order within each order key.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use tests::gateway::{TestGateway, eventually};
use tests::mocks::new_order_body;

const LANES: usize = 3;
/// One submission per lane every this long, for the whole outage.
const PACE: Duration = Duration::from_millis(100);
const OUTAGE: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5_s_backend_outage_loses_nothing_and_keeps_each_keys_order() {
    let yaml = r#"
backends:
  orders: { url: $ORDERS }
events:
  store: { kind: embedded }
routes:
  - path: /v1/orders
    method: POST
    backend: orders
    async:
      order_key: "{request.lane}"
      backoff: { base: 50ms, max: 400ms }
      max_attempts: 100
"#;
    let gw = TestGateway::start(yaml).await;
    gw.mocks.orders.control.set_down(true).await;
    let started = tokio::time::Instant::now();
    let mut submitted: Vec<(String, String)> = Vec::new();
    let mut n = 0;
    while started.elapsed() < OUTAGE {
        for lane in 0..LANES {
            n += 1;
            let sequence = format!("{lane}-{n}");
            let mut body = new_order_body(1);
            body["lane"] = json!(format!("lane-{lane}"));
            let response = gw
                .client
                .post(gw.url("/v1/orders"))
                .header("x-sequence", &sequence)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 202, "accepted while the backend is down");
            let accepted: Value = response.json().await.unwrap();
            submitted.push((accepted["id"].as_str().unwrap().to_owned(), sequence));
        }
        tokio::time::sleep(PACE).await;
    }
    assert!(
        gw.mocks.orders.control.requests().is_empty(),
        "nothing reached the backend while it was down"
    );
    gw.mocks.orders.control.set_down(false).await;

    // Every acknowledged request completes with the backend's 201.
    for (id, sequence) in &submitted {
        let url = gw.url(&format!("/v1/requests/{id}"));
        eventually(&format!("request {sequence} delivered"), || async {
            let status = gw.client.get(&url).send().await.unwrap().status();
            assert!(
                status == 202 || status == 201,
                "request {sequence}: {status}"
            );
            status == 201
        })
        .await;
    }
    // In order within each lane, as the backend saw them.
    let seen: Vec<String> = gw
        .mocks
        .orders
        .control
        .requests()
        .into_iter()
        .filter(|request| request.method == "POST")
        .filter_map(|request| {
            request
                .headers
                .get("x-sequence")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        })
        .collect();
    let mut by_lane: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for sequence in &seen {
        let (lane, n) = sequence.split_once('-').unwrap();
        by_lane.entry(lane).or_default().push(n.parse().unwrap());
    }
    for (lane, numbers) in &by_lane {
        let mut deduped = numbers.clone();
        deduped.dedup();
        assert!(
            deduped.windows(2).all(|pair| pair[0] < pair[1]),
            "lane {lane} out of order: {numbers:?}"
        );
    }
    let mut distinct = seen.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        submitted.len(),
        "every request reached the backend"
    );
    println!(
        "{} requests accepted during a {OUTAGE:?} outage, {} backend calls after it",
        submitted.len(),
        seen.len()
    );
}
