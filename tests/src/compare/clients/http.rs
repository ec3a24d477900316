//! The HTTP client of the load generator: hyper's pooled client over
//! counted connections, speaking HTTP/1.1 (one connection per request in
//! flight, kept alive) or h2c (HTTP/2 with prior knowledge, multiplexed),
//! or HTTP/1.1 over TLS ([`super::tls`]).

use bytes::Bytes;
use http::{Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::Connect;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;

use super::wire::{CountingConnector, WireCounter};
use crate::compare::loadgen::CallError;

/// Which HTTP version a client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpVersion {
    Http1,
    H2c,
}

/// A pooled, byte-counting HTTP client over connector `C` (plain TCP by
/// default; [`super::tls`] wraps it in TLS).
#[derive(Clone, Debug)]
pub struct HttpClient<C = CountingConnector> {
    pub(super) client: Client<C, Full<Bytes>>,
    pub(super) counter: WireCounter,
}

impl HttpClient {
    pub fn new(version: HttpVersion) -> HttpClient {
        let connector = CountingConnector::default();
        let counter = connector.counter.clone();
        let mut builder = Client::builder(TokioExecutor::new());
        builder.pool_max_idle_per_host(usize::MAX);
        if version == HttpVersion::H2c {
            builder.http2_only(true);
        }
        HttpClient {
            client: builder.build(connector),
            counter,
        }
    }
}

impl<C: Connect + Clone + Send + Sync + 'static> HttpClient<C> {
    /// The bytes this client's connections carried so far.
    pub fn wire(&self) -> &WireCounter {
        &self.counter
    }

    /// `GET uri`; the body of a 2xx answer, or an error naming the status.
    pub async fn get(&self, uri: &Uri) -> Result<Bytes, CallError> {
        let request = Request::get(uri.clone())
            .body(Full::default())
            .map_err(|e| CallError::new(format!("bad request: {e}")))?;
        self.send(request).await
    }

    /// `GET uri` with `Connection: close`: the server closes the
    /// connection after answering (a new connection per request).
    pub async fn get_and_close(&self, uri: &Uri) -> Result<Bytes, CallError> {
        let request = Request::get(uri.clone())
            .header(header::CONNECTION, "close")
            .body(Full::default())
            .map_err(|e| CallError::new(format!("bad request: {e}")))?;
        self.send(request).await
    }

    /// `POST uri` with a JSON body.
    pub async fn post_json(&self, uri: &Uri, body: Bytes) -> Result<Bytes, CallError> {
        self.post(uri, "application/json", body).await
    }

    /// `POST uri` with `body` of `content_type`.
    pub async fn post(
        &self,
        uri: &Uri,
        content_type: &str,
        body: Bytes,
    ) -> Result<Bytes, CallError> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(uri.clone())
            .header(header::CONTENT_TYPE, content_type)
            .body(Full::new(body))
            .map_err(|e| CallError::new(format!("bad request: {e}")))?;
        self.send(request).await
    }

    /// `POST uri` with a JSON body and one extra header (`name: value`).
    pub async fn post_json_with_header(
        &self,
        uri: &Uri,
        (name, value): (&str, &str),
        body: Bytes,
    ) -> Result<Bytes, CallError> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(uri.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(name, value)
            .body(Full::new(body))
            .map_err(|e| CallError::new(format!("bad request: {e}")))?;
        self.send(request).await
    }

    async fn send(&self, request: Request<Full<Bytes>>) -> Result<Bytes, CallError> {
        let response = self
            .client
            .request(request)
            .await
            .map_err(transport_error)?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| CallError::new(format!("body: {e}")))?
            .to_bytes();
        if !status.is_success() {
            return Err(status_error(status, &body));
        }
        Ok(body)
    }
}

fn transport_error(error: hyper_util::client::legacy::Error) -> CallError {
    let cause = std::error::Error::source(&error)
        .map(ToString::to_string)
        .unwrap_or_else(|| error.to_string());
    if error.is_connect() {
        CallError::new(format!("connect: {cause}"))
    } else {
        CallError::new(format!("transport: {cause}"))
    }
}

/// `HTTP 502 UPSTREAM_UNAVAILABLE` when the body is a JSON error, else
/// `HTTP 502`.
fn status_error(status: StatusCode, body: &[u8]) -> CallError {
    let code = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned));
    match code {
        Some(code) => CallError::new(format!("HTTP {} {code}", status.as_u16())),
        None => CallError::new(format!("HTTP {}", status.as_u16())),
    }
}
