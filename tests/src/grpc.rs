//! Helpers for the gRPC bridge tests: the default routes, the orders gRPC
//! mock's request log, and JSON bodies for OrderService messages.

use mock_backends::{RecordedRequest, seed};
use serde_json::{Value, json};

use crate::gateway::TestGateway;

/// The gateway on the repository's routes.yaml, over fresh mocks.
pub async fn bridge() -> TestGateway {
    TestGateway::with_default_routes().await
}

/// The gRPC calls the orders gRPC mock received for one method
/// (`"GetOrder"`), in arrival order.
pub fn grpc_calls(gateway: &TestGateway, method: &str) -> Vec<RecordedRequest> {
    let path = format!("/orders.OrderService/{method}");
    gateway
        .mocks
        .orders_grpc
        .control
        .requests()
        .into_iter()
        .filter(|r| r.path == path)
        .collect()
}

/// Every gRPC call the orders gRPC mock received.
pub fn grpc_call_count(gateway: &TestGateway) -> usize {
    gateway
        .mocks
        .orders_grpc
        .control
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/orders."))
        .count()
}

/// A valid CreateOrderRequest in proto3 JSON (lowerCamelCase).
pub fn create_order_json(quantity: i32) -> Value {
    json!({
        "customerId": seed::FIRST_CUSTOMER_ID.to_string(),
        "items": [{"productId": seed::SECOND_PRODUCT_ID.to_string(), "quantity": quantity, "unitPrice": 49.99}],
    })
}

/// Sends a request and returns the status, headers and JSON body.
pub async fn json_call(
    request: reqwest::RequestBuilder,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body read");
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, headers, body)
}

/// Reads a streamed response body line by line (NDJSON) or event by event
/// (SSE, separated by a blank line).
pub struct StreamReader {
    response: reqwest::Response,
    buffer: String,
    separator: &'static str,
}

impl StreamReader {
    pub fn ndjson(response: reqwest::Response) -> Self {
        Self {
            response,
            buffer: String::new(),
            separator: "\n",
        }
    }

    pub fn sse(response: reqwest::Response) -> Self {
        Self {
            response,
            buffer: String::new(),
            separator: "\n\n",
        }
    }

    /// The next line or event (without its separator); `None` at the end.
    pub async fn next(&mut self) -> Option<String> {
        loop {
            if let Some(at) = self.buffer.find(self.separator) {
                let item = self.buffer[..at].to_owned();
                self.buffer.drain(..at + self.separator.len());
                return Some(item);
            }
            let chunk = self.response.chunk().await.expect("body chunk")?;
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("utf-8 body"));
        }
    }

    /// The next NDJSON line as JSON, within the test deadline.
    pub async fn next_json(&mut self) -> Option<Value> {
        let line = crate::mocks::within("the next streamed message", self.next()).await?;
        Some(serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}")))
    }
}

/// Moves an order to a new status through the REST mock (which shares the
/// store with the gRPC mock), as a real status change would happen.
pub async fn set_status(gateway: &TestGateway, order_id: &str, status: &str) {
    let url = crate::mocks::url(
        &gateway.mocks.orders,
        &format!("/v1/orders/{order_id}/status"),
    );
    let response = gateway
        .client
        .patch(url)
        .json(&json!({"status": status}))
        .send()
        .await
        .expect("status change");
    assert_eq!(response.status(), 200, "status change to {status}");
}

/// Opens WatchOrder on the gateway for `order_id`, as SSE when `sse`
/// (else NDJSON), and checks the stream was accepted with 200.
pub async fn watch_order(gateway: &TestGateway, order_id: &str, sse: bool) -> reqwest::Response {
    let mut request = gateway
        .client
        .get(gateway.url(&format!("/grpc/v1/orders/{order_id}/watch")));
    if sse {
        request = request.header("accept", "text/event-stream");
    }
    let response = request.send().await.expect("watch request sent");
    assert_eq!(response.status(), 200, "watch accepted");
    response
}

/// Creates a PENDING order through the gateway and returns its id.
pub async fn new_order_id(gateway: &TestGateway) -> String {
    let (status, _, created) = json_call(
        gateway
            .client
            .post(gateway.url("/grpc/v1/orders"))
            .json(&create_order_json(1)),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    created["id"].as_str().expect("order id").to_owned()
}

/// Splits a gRPC-Web body into (messages, trailer block).
pub fn split_web_body(mut body: bytes::Bytes) -> (Vec<bytes::Bytes>, String) {
    use bytes::Buf as _;
    let (mut messages, mut trailers) = (Vec::new(), String::new());
    while body.len() >= 5 {
        let flags = body.get_u8();
        let len = body.get_u32() as usize;
        let payload = body.split_to(len);
        if flags & 0x80 != 0 {
            trailers = String::from_utf8(payload.to_vec()).expect("UTF-8 trailers");
        } else {
            messages.push(payload);
        }
    }
    (messages, trailers)
}
