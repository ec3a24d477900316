//! HTTP/2 abuse over raw frames: rapid reset, a CONTINUATION flood and a
//! PING flood. Each abusive connection is cut (or ignored) by the
//! gateway, a normal request is served afterwards, and the gateway's
//! descriptors return to their baseline once the abuser is gone.

use tests::gateway::{TestGateway, eventually};
use tests::mocks::within;
use tests::raw::{
    CONTINUATION, END_HEADERS, END_STREAM, GOAWAY, HEADERS, PING, RST_STREAM, connection_fds,
    frame, get_headers_block, h2c_connect, h2c_get, literal_header, read_frame, read_until_closed,
    until_goaway, write_for_at_most,
};
use tokio::net::TcpStream;

const ROUTES: &str = r#"
backends:
  users: { url: $USERS }
routes:
  - path: /v1/users
    backend: users
"#;

const FLOOD_WRITE_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A normal h2c request succeeds, and once the abuser's socket is closed,
/// the gateway holds no more connection descriptors than before.
async fn still_serving_and_back_to_baseline(gw: &TestGateway, baseline: usize, abuser: TcpStream) {
    assert_eq!(h2c_get(gw.gateway.addr, "/v1/users").await, 200);
    drop(abuser);
    let port = gw.gateway.addr.port();
    eventually("the descriptors to return to the baseline", || async {
        connection_fds(port) <= baseline
    })
    .await;
}

#[tokio::test]
async fn rapid_reset_gets_goaway_and_the_gateway_keeps_serving() {
    let gw = TestGateway::start(ROUTES).await;
    let baseline = connection_fds(gw.gateway.addr.port());
    let mut abuser = h2c_connect(gw.gateway.addr).await;
    let block = get_headers_block("/v1/users");
    let mut flood = Vec::new();
    for index in 0..2000u32 {
        let stream = 2 * index + 1;
        flood.extend(frame(HEADERS, END_HEADERS | END_STREAM, stream, &block));
        // CANCEL
        flood.extend(frame(RST_STREAM, 0, stream, &8u32.to_be_bytes()));
    }
    write_for_at_most(&mut abuser, &flood, FLOOD_WRITE_LIMIT).await;
    let goaway = until_goaway(&mut abuser).await.expect("a GOAWAY frame");
    // ENHANCE_YOUR_CALM (0xb) is h2's answer to too many resets.
    let code = u32::from_be_bytes(goaway.payload[4..8].try_into().unwrap());
    assert_eq!(code, 0xb, "GOAWAY error code");
    still_serving_and_back_to_baseline(&gw, baseline, abuser).await;
}

#[tokio::test]
async fn a_continuation_flood_is_cut_and_the_gateway_keeps_serving() {
    let gw = TestGateway::start(ROUTES).await;
    let baseline = connection_fds(gw.gateway.addr.port());
    let mut abuser = h2c_connect(gw.gateway.addr).await;
    let mut flood = frame(HEADERS, 0, 1, &get_headers_block("/v1/users"));
    let filler = literal_header("x-filler", &"a".repeat(100));
    let payload: Vec<u8> = filler
        .iter()
        .copied()
        .cycle()
        .take(filler.len() * 100)
        .collect();
    // About 100 MB of headers, never ended, if nothing stops it.
    for _ in 0..10_000 {
        flood.extend(frame(CONTINUATION, 0, 1, &payload));
    }
    write_for_at_most(&mut abuser, &flood, FLOOD_WRITE_LIMIT).await;
    // The gateway refuses the header list (GOAWAY) or hangs up.
    if let Some(goaway) = until_goaway(&mut abuser).await {
        assert_eq!(goaway.kind, GOAWAY);
    }
    still_serving_and_back_to_baseline(&gw, baseline, abuser).await;
}

#[tokio::test]
async fn a_ping_flood_does_not_disturb_other_clients() {
    let gw = TestGateway::start(ROUTES).await;
    let baseline = connection_fds(gw.gateway.addr.port());
    let mut abuser = h2c_connect(gw.gateway.addr).await;
    let mut flood = Vec::new();
    for index in 0..100_000u64 {
        flood.extend(frame(PING, 0, 0, &index.to_be_bytes()));
    }
    // The abuser never reads its PING ACKs: the gateway stops reading
    // from it once its send buffer is full, instead of queueing answers.
    write_for_at_most(&mut abuser, &flood, FLOOD_WRITE_LIMIT).await;
    // The abusive connection still answers (it was not a protocol error).
    let first = read_frame(&mut abuser).await;
    assert!(first.is_some());
    still_serving_and_back_to_baseline(&gw, baseline, abuser).await;
}

#[tokio::test]
async fn a_client_that_does_not_answer_pings_loses_its_connection() {
    let yaml = format!(
        "server:\n  http2: {{ keepalive_interval: 100ms, keepalive_timeout: 100ms }}\n{ROUTES}"
    );
    let gw = TestGateway::start(&yaml).await;
    let mut silent = h2c_connect(gw.gateway.addr).await;
    let ping = within("a PING from the gateway", async {
        loop {
            let frame = read_frame(&mut silent)
                .await
                .expect("the connection stays up until then");
            if frame.kind == PING {
                return frame;
            }
        }
    })
    .await;
    assert_eq!(ping.flags & 0x1, 0, "a PING, not an ACK");
    // No PING ACK goes back: the gateway closes the connection.
    read_until_closed(&mut silent).await;
}
