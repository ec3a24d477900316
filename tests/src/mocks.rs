//! Helpers for tests against the mock backends: start them on port 0,
//! talk to them over HTTP/1.1, h2c or gRPC, and await conditions with a
//! generous deadline instead of sleeping.

use std::future::Future;
use std::time::Duration;

use mock_backends::proto::order_service_client::OrderServiceClient;
use mock_backends::{
    Control, MockBackends, MockOptions, Outcome, RecordedRequest, ServiceHandle, SubscriberHandle,
    SubscriberKind, SubscriberOptions, start_subscriber,
};
use serde_json::{Value, json};
use tonic::transport::Channel;

/// How long any awaited event may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// One event subscriber mock (`inventory`, `notification`, ...) on
/// 127.0.0.1 port 0, with no injected faults.
pub async fn subscriber(kind: SubscriberKind) -> SubscriberHandle {
    start_subscriber(
        kind,
        "127.0.0.1:0".parse().expect("an address"),
        SubscriberOptions::default(),
    )
    .await
    .expect("the subscriber mock starts")
}

/// Every mock service on 127.0.0.1 port 0, seeded, no injection.
pub async fn start_mocks() -> MockBackends {
    mock_backends::start_all(MockOptions::ephemeral())
        .await
        .expect("mock backends start")
}

/// An HTTP/1.1 client.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().build().expect("http client")
}

/// An HTTP/2 cleartext client (prior knowledge).
pub fn h2c() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("h2c client")
}

/// `http://{addr}{path}` for a service.
pub fn url(service: &ServiceHandle, path: &str) -> String {
    format!("{}{path}", service.url())
}

/// A tonic client of the orders gRPC service.
pub async fn grpc_client(service: &ServiceHandle) -> OrderServiceClient<Channel> {
    OrderServiceClient::connect(service.url())
        .await
        .expect("grpc connect")
}

/// Awaits `future`, failing the test if it takes longer than [`DEADLINE`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Waits until `control`'s service has recorded a call to a path ending in
/// `path_suffix` as cancelled (the caller gave up on it), and returns every
/// recorded call; fails the test after [`DEADLINE`].
pub async fn cancelled_call(control: &Control, path_suffix: &str) -> Vec<RecordedRequest> {
    let cancelled = |calls: &[RecordedRequest]| {
        calls
            .iter()
            .any(|c| c.path.ends_with(path_suffix) && c.outcome == Outcome::Cancelled)
    };
    within(
        &format!("a call to *{path_suffix} recorded as cancelled"),
        control.wait_for_requests(cancelled),
    )
    .await
}

/// A valid `POST /v1/orders` body: `quantity` × Widget at 29.99 for John Doe.
pub fn new_order_body(quantity: u32) -> Value {
    json!({
        "customer_id": mock_backends::seed::FIRST_CUSTOMER_ID,
        "items": [{"product_id": mock_backends::seed::FIRST_PRODUCT_ID, "quantity": quantity, "unit_price": 29.99}],
    })
}

/// Sends a request and returns its status and JSON body (`Null` if empty).
pub async fn send_json(request: reqwest::RequestBuilder) -> (reqwest::StatusCode, Value) {
    let response = request.send().await.expect("request is answered");
    let status = response.status();
    let bytes = response.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON body")
    };
    (status, body)
}

/// Sends a request and returns its JSON body, whatever the status.
pub async fn json_body(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.expect("request is answered");
    response.json().await.expect("JSON body")
}

/// The stable error code of a JSON error body.
pub fn error_code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {body}"))
}

/// Creates an order over REST and returns its JSON.
pub async fn create_order(mocks: &MockBackends, quantity: u32) -> Value {
    let (status, order) = send_json(
        http()
            .post(url(&mocks.orders, "/v1/orders"))
            .json(&new_order_body(quantity)),
    )
    .await;
    assert_eq!(status, 201, "{order}");
    order
}

/// `GET url` over HTTP/1.1; the response status.
pub async fn get_status(url: String) -> u16 {
    http()
        .get(url)
        .send()
        .await
        .expect("request is answered")
        .status()
        .as_u16()
}
