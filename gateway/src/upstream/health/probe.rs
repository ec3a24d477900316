//! One health check against one endpoint: an HTTP GET of a path with
//! expected statuses, the `grpc.health.v1.Health/Check` RPC (h2c), or a
//! TCP connect. A probe answers `Ok` or the reason it failed (for the log
//! line of a change; never shown to clients).
//!
//! Checks have their own small client (one connection per endpoint, kept
//! alive between checks, as Envoy's health checker does), separate from
//! the pool's request clients. Response bodies are read up to
//! [`MAX_BODY`] and no further.

use std::ops::RangeInclusive;
use std::time::Duration;

use bytes::{Buf, Bytes};
use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use prost::Message;

use crate::config::model::{BackendSpec, HealthCheckSpec, HealthProbe, UpstreamProtocol};
use crate::upstream::pool::join_uri;

/// The most of a check's response body that is read.
pub const MAX_BODY: usize = 64 * 1024;
const CHECK_USER_AGENT: &str = "gateway-health-check";
const GRPC_CHECK_PATH: &str = "/grpc.health.v1.Health/Check";
/// `grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING`.
const SERVING: i32 = 1;

type CheckClient = Client<HttpConnector, Full<Bytes>>;

/// How one backend's endpoints are probed.
#[derive(Debug)]
pub enum Prober {
    Http {
        client: CheckClient,
        path: http::uri::PathAndQuery,
        expected: Vec<RangeInclusive<u16>>,
    },
    Grpc {
        client: CheckClient,
        request: Bytes,
    },
    Tcp {
        connect_timeout: Duration,
    },
}

impl Prober {
    pub fn new(backend: &BackendSpec, check: &HealthCheckSpec) -> Self {
        match &check.probe {
            HealthProbe::Http {
                path,
                expected_statuses,
            } => Prober::Http {
                client: client(backend, backend.protocol == UpstreamProtocol::H2c),
                path: path
                    .parse()
                    .unwrap_or_else(|_| http::uri::PathAndQuery::from_static("/")),
                expected: expected_statuses.clone(),
            },
            HealthProbe::Grpc { service } => Prober::Grpc {
                client: client(backend, true),
                request: grpc_frame(&HealthCheckRequest {
                    service: service.clone(),
                }),
            },
            HealthProbe::Tcp => Prober::Tcp {
                connect_timeout: backend.connect_timeout,
            },
        }
    }

    /// Checks the endpoint at `base` once.
    pub async fn probe(&self, base: &Uri) -> Result<(), String> {
        match self {
            Prober::Http {
                client,
                path,
                expected,
            } => http_check(client, base, path, expected).await,
            Prober::Grpc { client, request } => grpc_check(client, base, request.clone()).await,
            Prober::Tcp { connect_timeout } => tcp_check(base, *connect_timeout).await,
        }
    }
}

fn client(backend: &BackendSpec, http2: bool) -> CheckClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(backend.connect_timeout));
    connector.set_nodelay(true);
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_max_idle_per_host(1);
    if http2 {
        builder.http2_only(true);
    }
    builder.build(connector)
}

async fn http_check(
    client: &CheckClient,
    base: &Uri,
    path: &http::uri::PathAndQuery,
    expected: &[RangeInclusive<u16>],
) -> Result<(), String> {
    let origin = Uri::from(path.clone());
    let uri = join_uri(base, &origin).map_err(|e| e.to_string())?;
    let mut request = Request::new(Full::new(Bytes::new()));
    *request.uri_mut() = uri;
    request
        .headers_mut()
        .insert(USER_AGENT, HeaderValue::from_static(CHECK_USER_AGENT));
    let response = client.request(request).await.map_err(describe)?;
    let status = response.status().as_u16();
    // Read (a bounded part of) the body so the connection can be reused.
    let _ = Limited::new(response.into_body(), MAX_BODY).collect().await;
    if expected.iter().any(|range| range.contains(&status)) {
        Ok(())
    } else {
        Err(format!("answered {status}, not an expected status"))
    }
}

async fn grpc_check(client: &CheckClient, base: &Uri, body: Bytes) -> Result<(), String> {
    let uri = join_uri(base, &Uri::from_static(GRPC_CHECK_PATH)).map_err(|e| e.to_string())?;
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert("te", HeaderValue::from_static("trailers"));
    headers.insert(USER_AGENT, HeaderValue::from_static(CHECK_USER_AGENT));
    let response = client.request(request).await.map_err(describe)?;
    if !response.status().is_success() {
        return Err(format!("answered HTTP {}", response.status().as_u16()));
    }
    let head_status = grpc_status(response.headers());
    let collected = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| format!("the response body failed: {e}"))?;
    let status = head_status.or_else(|| collected.trailers().and_then(grpc_status));
    match status {
        Some(0) => {}
        Some(code) => return Err(format!("grpc-status {code}")),
        None => return Err("no grpc-status".to_owned()),
    }
    let reply = decode_reply(collected.to_bytes())?;
    if reply.status == SERVING {
        Ok(())
    } else {
        Err(format!("serving status {} (not SERVING)", reply.status))
    }
}

async fn tcp_check(base: &Uri, connect_timeout: Duration) -> Result<(), String> {
    let host = base.host().ok_or("no host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = base.port_u16().unwrap_or(80);
    match tokio::time::timeout(
        connect_timeout,
        tokio::net::TcpStream::connect((host, port)),
    )
    .await
    {
        Ok(Ok(_stream)) => Ok(()),
        Ok(Err(error)) => Err(format!("connect failed: {error}")),
        Err(_) => Err(format!("connect timed out after {connect_timeout:?}")),
    }
}

fn describe(error: hyper_util::client::legacy::Error) -> String {
    crate::upstream::error::describe(&error)
}

fn grpc_status(headers: &HeaderMap) -> Option<i32> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}

/// `grpc.health.v1.HealthCheckRequest`.
#[derive(Clone, PartialEq, Message)]
struct HealthCheckRequest {
    #[prost(string, tag = "1")]
    service: String,
}

/// `grpc.health.v1.HealthCheckResponse` (the enum read as its number).
#[derive(Clone, PartialEq, Message)]
struct HealthCheckResponse {
    #[prost(int32, tag = "1")]
    status: i32,
}

/// A message in gRPC's length-prefixed framing, uncompressed.
fn grpc_frame(message: &impl Message) -> Bytes {
    let encoded = message.encode_to_vec();
    let mut frame = Vec::with_capacity(5 + encoded.len());
    frame.push(0);
    frame.extend_from_slice(
        &u32::try_from(encoded.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    frame.extend_from_slice(&encoded);
    Bytes::from(frame)
}

fn decode_reply(mut body: Bytes) -> Result<HealthCheckResponse, String> {
    if body.len() < 5 {
        return Err("no response message".to_owned());
    }
    let compressed = body.get_u8();
    let length = body.get_u32() as usize;
    if compressed != 0 || length > body.len() {
        return Err("an unreadable response message".to_owned());
    }
    HealthCheckResponse::decode(body.slice(..length))
        .map_err(|e| format!("an unreadable response message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_framed_reply_decodes_and_garbage_is_refused() {
        let reply = grpc_frame(&HealthCheckResponse { status: SERVING });
        assert_eq!(decode_reply(reply).unwrap().status, SERVING);
        let request = grpc_frame(&HealthCheckRequest {
            service: "orders.OrderService".into(),
        });
        assert_eq!(request[0], 0);
        assert_eq!(
            u32::from_be_bytes([request[1], request[2], request[3], request[4]]) as usize,
            request.len() - 5
        );
        assert!(decode_reply(Bytes::from_static(b"\x00\x00")).is_err());
        assert!(decode_reply(Bytes::from_static(b"\x01\x00\x00\x00\x00")).is_err());
        assert!(decode_reply(Bytes::from_static(b"\x00\x00\x00\x00\x09ab")).is_err());
    }
}
