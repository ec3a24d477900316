//! The `/debug/*` utilities that every REST mock serves for the gateway's
//! proxy tests: echo, streamed upload with progress, streamed download.

use futures::StreamExt;
use mock_backends::debug::download_bytes_sha256;
use sha2::{Digest, Sha256};
use tests::mocks::{error_code, h2c, http, send_json, start_mocks, url, within};

#[tokio::test]
async fn echo_reflects_the_request() {
    let mocks = start_mocks().await;
    let request = http()
        .put(url(&mocks.users, "/debug/echo/a/b?x=1&y=%20"))
        .header("x-multi", "one")
        .header("x-multi", "two")
        .body("12345");
    let (status, echo) = send_json(request).await;
    assert_eq!(status, 200);
    assert_eq!(
        (echo["method"].as_str(), echo["path"].as_str()),
        (Some("PUT"), Some("/debug/echo/a/b"))
    );
    assert_eq!(echo["query"], "x=1&y=%20");
    assert_eq!(
        echo["headers"]["x-multi"],
        serde_json::json!(["one", "two"])
    );
    assert_eq!(echo["body_len"], 5);
    let (_, bare) = send_json(h2c().delete(url(&mocks.products, "/debug/echo"))).await;
    assert_eq!(
        (bare["method"].as_str(), &bare["query"]),
        (Some("DELETE"), &serde_json::Value::Null)
    );
}

#[tokio::test]
async fn echo_sets_response_headers_and_status() {
    let mocks = start_mocks().await;
    let response = http()
        .get(url(&mocks.orders, "/debug/echo"))
        .header("x-echo-set-header", "x-extra=1")
        .header("x-echo-set-header", "keep-alive=timeout=5")
        .header("x-echo-status", "418")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 418);
    assert_eq!(response.headers()["x-extra"], "1");
    assert_eq!(response.headers()["keep-alive"], "timeout=5");
    let (status, error) = send_json(
        http()
            .get(url(&mocks.orders, "/debug/echo"))
            .header("x-echo-status", "abc"),
    )
    .await;
    assert_eq!(
        (status.as_u16(), error_code(&error)),
        (400, "INVALID_ECHO_HEADER")
    );
}

#[tokio::test]
async fn download_streams_deterministic_bytes() {
    let mocks = start_mocks().await;
    let n = 1_000_003;
    let response = http()
        .get(url(
            &mocks.payments,
            &format!("/debug/download?bytes={n}&seed=9"),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut hasher = Sha256::new();
    let mut received = 0;
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.unwrap();
        received += chunk.len() as u64;
        hasher.update(&chunk);
    }
    assert_eq!(received, n);
    assert_eq!(hex::encode(hasher.finalize()), download_bytes_sha256(n, 9));
    let (status, error) =
        send_json(http().get(url(&mocks.payments, "/debug/download?bytes=lots"))).await;
    assert_eq!(
        (status.as_u16(), error_code(&error)),
        (400, "INVALID_QUERY")
    );
}

#[tokio::test]
async fn upload_reports_progress_while_the_body_streams() {
    let mocks = start_mocks().await;
    let mut progress = mocks.orders.control.upload_progress();
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body = reqwest::Body::wrap_stream(tokio_stream::wrappers::ReceiverStream::new(receiver));
    let upload = tokio::spawn(
        http()
            .post(url(&mocks.orders, "/debug/upload"))
            .body(body)
            .send(),
    );
    sender.send(Ok(vec![7u8; 100_000])).await.unwrap();
    within(
        "progress of the first chunk",
        progress.wait_for(|bytes| *bytes == 100_000),
    )
    .await
    .unwrap();
    sender.send(Ok(vec![8u8; 50_000])).await.unwrap();
    drop(sender);
    let response = within("the upload response", upload)
        .await
        .unwrap()
        .unwrap();
    let result: serde_json::Value = response.json().await.unwrap();
    let mut expected = Sha256::new();
    expected.update(vec![7u8; 100_000]);
    expected.update(vec![8u8; 50_000]);
    assert_eq!(result["bytes"], 150_000);
    assert_eq!(result["sha256"], hex::encode(expected.finalize()));
    assert_eq!(*progress.borrow(), 150_000);
}

#[tokio::test]
async fn a_256_mib_download_streams_into_an_upload() {
    let mocks = start_mocks().await;
    let n: u64 = 256 * 1024 * 1024;
    let download = http()
        .get(url(
            &mocks.products,
            &format!("/debug/download?bytes={n}&seed=1"),
        ))
        .send()
        .await
        .unwrap();
    let body = reqwest::Body::wrap_stream(download.bytes_stream());
    let (status, result) =
        send_json(h2c().post(url(&mocks.users, "/debug/upload")).body(body)).await;
    assert_eq!(status, 200);
    assert_eq!(result["bytes"], n);
    assert_eq!(result["sha256"], download_bytes_sha256(n, 1));
}
