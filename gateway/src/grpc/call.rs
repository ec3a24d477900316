//! One upstream gRPC call through the backend's [`UpstreamPool`]: the
//! request head, and the response read as a stream of messages that ends
//! with the call's status.
//!
//! Dropping a [`MessageStream`] (or the future sending the request) drops
//! the HTTP/2 stream, which resets it: that is how a client that goes away
//! cancels the call on the backend.

use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue, TE};
use http::{HeaderMap, HeaderName, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;

use super::error::GrpcError;
use super::framing::FrameDecoder;
use super::status::{RpcStatus, read_status};
use crate::body::GatewayBody;
use crate::client_body::RequestBodyFault;
use crate::context::RequestContext;
use crate::upstream::UpstreamPool;
use crate::upstream::outbound::Outbound;

/// A gRPC request for `grpc_path`, carrying the configured metadata from
/// the client's headers and the deadline, finished by the upstream-request
/// builder (forwarding headers, request id, route rules, trace context).
pub fn grpc_request(
    grpc_path: &str,
    client_headers: &HeaderMap,
    client_uri: &http::Uri,
    metadata: &[HeaderName],
    ctx: &RequestContext,
    deadline: Option<Duration>,
    body: GatewayBody,
) -> Result<Request<GatewayBody>, GrpcError> {
    let mut request = Request::new(body);
    *request.method_mut() = Method::POST;
    *request.uri_mut() = grpc_path
        .parse()
        .map_err(|_| GrpcError::bad_request("BAD_PATH", format!("bad gRPC path {grpc_path:?}")))?;
    let headers = request.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert(TE, HeaderValue::from_static("trailers"));
    for name in metadata {
        for value in client_headers.get_all(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    if let Some(timeout) = deadline.and_then(|d| HeaderValue::from_str(&grpc_timeout(d)).ok()) {
        headers.insert("grpc-timeout", timeout);
    }
    Outbound::new(ctx, client_headers, client_uri).finish(&mut request);
    Ok(request)
}

/// `grpc-timeout`: at most 8 digits and a unit, rounded up.
pub fn grpc_timeout(deadline: Duration) -> String {
    let millis = deadline.as_millis().max(1);
    if millis < 100_000_000 {
        format!("{millis}m")
    } else {
        format!("{}S", deadline.as_secs().min(99_999_999))
    }
}

/// Sends the call and checks the response head. The response is under
/// the backend's body idle timeout.
pub async fn start(
    pool: &UpstreamPool,
    request: Request<GatewayBody>,
    timeout: Duration,
) -> Result<MessageStream, GrpcError> {
    let response = pool.send(request, timeout).await?;
    MessageStream::new(response)
}

/// [`start`] for a long-lived stream (server streaming, bidi): the
/// upstream may stay quiet between messages for as long as it likes
/// unless the route sets `body_idle_timeout`; the client side is kept
/// alive with SSE heartbeats and WebSocket pings instead.
pub async fn start_stream(
    pool: &UpstreamPool,
    request: Request<GatewayBody>,
    timeout: Duration,
    body_idle: Option<Duration>,
) -> Result<MessageStream, GrpcError> {
    let response = pool.send_with(request, timeout, body_idle).await?;
    MessageStream::new(response)
}

/// The response of a call as messages, then its status.
pub struct MessageStream {
    headers: HeaderMap,
    body: GatewayBody,
    decoder: FrameDecoder,
    trailers: Option<HeaderMap>,
    done: bool,
}

impl MessageStream {
    fn new(response: Response<GatewayBody>) -> Result<Self, GrpcError> {
        let (parts, body) = response.into_parts();
        let is_grpc = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/grpc"));
        if parts.status != StatusCode::OK {
            return Err(GrpcError::BadResponse(format!(
                "HTTP status {} instead of 200",
                parts.status
            )));
        }
        if !is_grpc && !parts.headers.contains_key("grpc-status") {
            return Err(GrpcError::BadResponse(
                "content-type is not application/grpc".into(),
            ));
        }
        Ok(Self {
            headers: parts.headers,
            body,
            decoder: FrameDecoder::new(),
            trailers: None,
            done: false,
        })
    }

    /// Whether the backend answered with headers only (`grpc-status` in
    /// the head): an immediate status, no messages.
    pub fn is_trailers_only(&self) -> bool {
        self.headers.contains_key("grpc-status")
    }

    /// The response headers (metadata).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The trailers, once the stream has ended.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.trailers.as_ref()
    }

    /// The next message; `Ok(None)` when the call ended with OK, an error
    /// for any other status or a broken stream. Cancel-safe.
    pub async fn next_message(&mut self) -> Result<Option<Bytes>, GrpcError> {
        loop {
            if let Some(frame) = self.decoder.next_frame()? {
                return Ok(Some(frame.payload));
            }
            if self.done {
                return Ok(None);
            }
            match self.body.frame().await {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.decoder.push(&data),
                    Err(frame) => self.trailers = frame.into_trailers().ok(),
                },
                Some(Err(error)) => {
                    self.done = true;
                    return Err(match RequestBodyFault::find_boxed(&error) {
                        Some(RequestBodyFault::TooLarge(too_large)) => {
                            GrpcError::BodyTooLarge(too_large)
                        }
                        Some(RequestBodyFault::Malformed) => GrpcError::ClientBody,
                        None => {
                            GrpcError::BadResponse(format!("the response stream broke: {error}"))
                        }
                    });
                }
                None => {
                    self.done = true;
                    self.decoder.finish()?;
                    return self.final_status().map(|_| None);
                }
            }
        }
    }

    fn final_status(&self) -> Result<(), GrpcError> {
        let status: RpcStatus = read_status(self.trailers.as_ref().unwrap_or(&self.headers))?;
        if status.code == 0 {
            Ok(())
        } else {
            Err(GrpcError::Status(status))
        }
    }

    /// Copies the configured metadata (headers, then trailers) into `out`.
    pub fn copy_metadata(&self, names: &[HeaderName], out: &mut HeaderMap) {
        for source in [Some(&self.headers), self.trailers.as_ref()]
            .into_iter()
            .flatten()
        {
            for name in names {
                for value in source.get_all(name) {
                    out.append(name.clone(), value.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::grpc_timeout;
    use std::time::Duration;

    #[test]
    fn grpc_timeout_uses_millis_then_seconds() {
        assert_eq!(grpc_timeout(Duration::from_secs(5)), "5000m");
        assert_eq!(grpc_timeout(Duration::from_micros(10)), "1m");
        assert_eq!(grpc_timeout(Duration::from_secs(200_000)), "200000S");
    }
}
