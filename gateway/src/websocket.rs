//! The server side of the WebSocket opening handshake (RFC 6455 §4.2),
//! shared by every WebSocket route (the gRPC bidi bridge and GraphQL's
//! graphql-transport-ws), so both validate the same way.
//!
//! [`check`] validates the upgrade request: `GET`, `Upgrade: websocket`,
//! `Connection: upgrade`, `Sec-WebSocket-Version: 13`, a
//! `Sec-WebSocket-Key` that is 16 bytes in base64, and, when the route
//! speaks a subprotocol, that the client offers it. [`accept`] answers 101
//! and serves the upgraded socket in a task.

use std::future::Future;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::{
    CONNECTION, HeaderMap, HeaderName, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::body::{self, GatewayBody};

/// A server-side WebSocket over the upgraded client connection.
pub type ServerSocket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// Why an upgrade request is not a valid WebSocket handshake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("a WebSocket handshake must be a GET, not {0}")]
    Method(Method),
    #[error("the {0} header must contain {1:?}")]
    MissingToken(HeaderName, &'static str),
    #[error("the sec-websocket-key header is missing or is not 16 bytes in base64")]
    Key,
    #[error("the WebSocket subprotocol must be {0} (offer it in sec-websocket-protocol)")]
    Subprotocol(&'static str),
}

/// A validated handshake: what the 101 answer carries.
#[derive(Debug, Clone)]
pub struct Handshake {
    accept: HeaderValue,
    protocol: Option<&'static str>,
}

/// Whether the request asks for a WebSocket upgrade at all (it may still
/// be an invalid handshake).
pub fn is_upgrade<B>(request: &Request<B>) -> bool {
    has_token(request.headers(), &UPGRADE, "websocket")
}

/// Validates the upgrade request; `protocol` is the subprotocol the route
/// speaks, if any.
pub fn check<B>(
    request: &Request<B>,
    protocol: Option<&'static str>,
) -> Result<Handshake, HandshakeError> {
    if request.method() != Method::GET {
        return Err(HandshakeError::Method(request.method().clone()));
    }
    let headers = request.headers();
    for (name, token) in [
        (&UPGRADE, "websocket"),
        (&CONNECTION, "upgrade"),
        (&SEC_WEBSOCKET_VERSION, "13"),
    ] {
        if !has_token(headers, name, token) {
            return Err(HandshakeError::MissingToken(name.clone(), token));
        }
    }
    let key = headers
        .get(SEC_WEBSOCKET_KEY)
        .filter(|key| is_valid_key(key.as_bytes()))
        .ok_or(HandshakeError::Key)?;
    if let Some(protocol) = protocol
        && !offers_protocol(headers, protocol)
    {
        return Err(HandshakeError::Subprotocol(protocol));
    }
    let accept = HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
        .map_err(|_| HandshakeError::Key)?;
    Ok(Handshake { accept, protocol })
}

/// Answers 101 and runs `serve` on the socket once the connection is
/// upgraded.
pub fn accept<B, F, Fut>(
    request: &mut Request<B>,
    handshake: Handshake,
    serve: F,
) -> Response<GatewayBody>
where
    F: FnOnce(ServerSocket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let open_stream = crate::observe::Exchange::of(request)
        .and_then(|exchange| exchange.observers.metrics())
        .map(|metrics| metrics.open_stream(crate::observe::metrics::StreamKind::WebSocket));
    let on_upgrade = hyper::upgrade::on(request);
    // The session runs in the request's span (with traces on), so its
    // upstream calls are children of it and the span lasts as long.
    let span = tracing::Span::current();
    tokio::spawn(tracing::Instrument::instrument(
        async move {
            let _counted_until_the_session_ends = open_stream;
            match on_upgrade.await {
                Ok(upgraded) => {
                    let io = TokioIo::new(upgraded);
                    serve(WebSocketStream::from_raw_socket(io, Role::Server, None).await).await;
                }
                Err(error) => tracing::debug!(%error, "websocket upgrade failed"),
            }
        },
        span,
    ));
    switching_protocols(handshake)
}

fn switching_protocols(handshake: Handshake) -> Response<GatewayBody> {
    let mut response = Response::new(body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(SEC_WEBSOCKET_ACCEPT, handshake.accept);
    if let Some(protocol) = handshake.protocol {
        headers.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(protocol));
    }
    response
}

/// Whether a comma-separated header holds `token` (case-insensitive).
fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| {
            value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        })
}

/// Whether the client offers the subprotocol (tokens compare exactly).
fn offers_protocol(headers: &HeaderMap, protocol: &str) -> bool {
    headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.split(',').any(|t| t.trim() == protocol))
}

/// RFC 6455: the key is a random 16-byte value, base64-encoded.
fn is_valid_key(key: &[u8]) -> bool {
    STANDARD.decode(key).is_ok_and(|bytes| bytes.len() == 16)
}

#[cfg(test)]
mod tests;
