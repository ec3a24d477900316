//! Bodies stream both ways: 256 MiB up and down arrive intact, and an
//! upload reaches the backend while the client is still sending.

use futures::StreamExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tests::gateway::TestGateway;

const ROUTES: &str = r#"
backends:
  orders: { url: $ORDERS, request_timeout: 60s }
routes:
  - path: /debug/{*rest}
    backend: orders
    # Streams large uploads: raised past the 1 MiB default.
    max_body: unlimited
"#;

const SIZE: u64 = 256 * 1024 * 1024;
const CHUNK: usize = 1024 * 1024;

fn chunk(index: u64) -> Vec<u8> {
    (0..CHUNK)
        .map(|i| (i as u64).wrapping_mul(31).wrapping_add(index) as u8)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_256_mib_upload_and_download_arrive_intact() {
    let gw = TestGateway::start(ROUTES).await;
    let chunks = SIZE / CHUNK as u64;
    let mut expected = Sha256::new();
    for index in 0..chunks {
        expected.update(chunk(index));
    }
    let expected = hex::encode(expected.finalize());
    let stream =
        futures::stream::iter(0..chunks).map(|index| Ok::<_, std::io::Error>(chunk(index)));
    let response = gw
        .client
        .post(gw.url("/debug/upload"))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let receipt: Value = response.json().await.unwrap();
    assert_eq!(receipt["bytes"], SIZE);
    assert_eq!(receipt["sha256"], expected);

    let response = gw
        .client
        .get(gw.url(&format!("/debug/download?bytes={SIZE}&seed=7")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut hasher = Sha256::new();
    let mut received = 0u64;
    let mut body = response.bytes_stream();
    while let Some(piece) = body.next().await {
        let piece = piece.unwrap();
        received += piece.len() as u64;
        hasher.update(&piece);
    }
    assert_eq!(received, SIZE);
    assert_eq!(
        hex::encode(hasher.finalize()),
        mock_backends::debug::download_bytes_sha256(SIZE, 7)
    );
}

#[tokio::test]
async fn an_upload_reaches_the_backend_while_the_client_is_still_sending() {
    let gw = TestGateway::start(ROUTES).await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body = reqwest::Body::wrap_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    let upload = tokio::spawn({
        let request = gw.client.post(gw.url("/debug/upload")).body(body);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    });
    tx.send(Ok(vec![1u8; 64 * 1024])).await.unwrap();
    let mut progress = gw.mocks.orders.control.upload_progress();
    // The rest of the body is not sent until the backend has the first part.
    tests::mocks::within(
        "the first chunk to reach the backend",
        progress.wait_for(|bytes| *bytes >= 64 * 1024),
    )
    .await
    .unwrap();
    tx.send(Ok(vec![2u8; 64 * 1024])).await.unwrap();
    drop(tx);
    let receipt = upload.await.unwrap();
    assert_eq!(receipt["bytes"], 128 * 1024);
}
