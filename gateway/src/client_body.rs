//! The client's request body, told apart from everything upstream.
//!
//! hyper reports a malformed chunked body (a bad or overflowing size line,
//! a bare LF, data longer than its size, a broken extension) and a client
//! that stops mid-body as an error of the body stream. The server wraps
//! every incoming body with [`from_incoming`], so such an error is a
//! [`ClientBodyError`]. It then travels inside whatever error the reader
//! reports (the upstream client's "user body failed", a collect) and
//! [`RequestBodyFault::find`] picks it, or the body limit's
//! [`BodyTooLarge`], out of the cause chain. Every handler maps the fault
//! to `400 BAD_REQUEST_BODY` or `413 BODY_TOO_LARGE`, never to an
//! upstream code.

use std::sync::{Arc, OnceLock};

use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::body::{BoxError, GatewayBody};
use crate::edge_error::GatewayError;
use crate::limits::BodyTooLarge;

/// Reading the client's body failed: bad framing, the client went away, or
/// a body encoding the gateway decodes (gRPC-Web text) is broken. The cause
/// is kept as the source, for the log only.
#[derive(Debug, thiserror::Error)]
#[error("the request body could not be read")]
pub struct ClientBodyError(#[source] BoxError);

impl ClientBodyError {
    pub fn new(cause: impl Into<BoxError>) -> Self {
        Self(cause.into())
    }
}

/// The client's body as the gateway's body type, its errors typed.
pub fn from_incoming(body: Incoming) -> GatewayBody {
    from_body(body)
}

/// As [`from_incoming`], for the client's body wrapped by the server.
pub fn from_body<B>(body: B) -> GatewayBody
where
    B: http_body::Body<Data = bytes::Bytes, Error = hyper::Error> + Send + 'static,
{
    body.map_err(|error| BoxError::from(ClientBodyError::new(error)))
        .boxed_unsync()
}

/// Remembers the fault of a body on its way upstream. Over HTTP/1.1 the
/// upstream client returns the body's error itself; over HTTP/2 it resets
/// the stream and reports the reset instead, so the pool asks the watch.
#[derive(Debug, Clone, Default)]
pub struct BodyFaultWatch(Arc<OnceLock<RequestBodyFault>>);

impl BodyFaultWatch {
    /// `body`, recording its first fault here.
    pub fn watch(&self, body: GatewayBody) -> GatewayBody {
        let seen = Arc::clone(&self.0);
        body.map_err(move |error| {
            if let Some(fault) = RequestBodyFault::find_boxed(&error) {
                let _ = seen.set(fault);
            }
            error
        })
        .boxed_unsync()
    }

    /// The fault, if the body failed.
    pub fn fault(&self) -> Option<RequestBodyFault> {
        self.0.get().copied()
    }
}

/// What was wrong with the client's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBodyFault {
    /// Over the route's limit (413).
    TooLarge(BodyTooLarge),
    /// Bad framing or cut short (400).
    Malformed,
}

/// The client-facing message of [`RequestBodyFault::Malformed`].
pub const MALFORMED_MESSAGE: &str = "the request body is malformed or was cut short";

impl RequestBodyFault {
    /// The fault somewhere in `error`'s cause chain, if any.
    pub fn find(error: &(dyn std::error::Error + 'static)) -> Option<Self> {
        let mut cause = Some(error);
        while let Some(current) = cause {
            if let Some(too_large) = current.downcast_ref::<BodyTooLarge>() {
                return Some(RequestBodyFault::TooLarge(*too_large));
            }
            if current.is::<ClientBodyError>() {
                return Some(RequestBodyFault::Malformed);
            }
            cause = current.source();
        }
        None
    }

    /// [`Self::find`] over a boxed error.
    pub fn find_boxed(error: &BoxError) -> Option<Self> {
        Self::find(error.as_ref())
    }

    /// The stable error code.
    pub fn code(self) -> &'static str {
        match self {
            RequestBodyFault::TooLarge(_) => "BODY_TOO_LARGE",
            RequestBodyFault::Malformed => "BAD_REQUEST_BODY",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            RequestBodyFault::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            RequestBodyFault::Malformed => StatusCode::BAD_REQUEST,
        }
    }

    /// The client-facing message: names the problem, no internals.
    pub fn message(self) -> String {
        match self {
            RequestBodyFault::TooLarge(too_large) => too_large.to_string(),
            RequestBodyFault::Malformed => MALFORMED_MESSAGE.to_owned(),
        }
    }
}

impl std::fmt::Display for RequestBodyFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl From<RequestBodyFault> for GatewayError {
    fn from(fault: RequestBodyFault) -> Self {
        GatewayError::new(fault.status(), fault.code(), fault.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] BoxError);

    #[test]
    fn faults_are_found_anywhere_in_the_chain() {
        let too_large = Outer(Box::new(BodyTooLarge { limit: 5 }));
        assert_eq!(
            RequestBodyFault::find(&too_large),
            Some(RequestBodyFault::TooLarge(BodyTooLarge { limit: 5 }))
        );
        let unrelated = Outer(Box::new(std::io::Error::other("os error 111")));
        assert_eq!(RequestBodyFault::find(&unrelated), None);
    }

    #[test]
    fn faults_render_as_client_errors() {
        let error = GatewayError::from(RequestBodyFault::Malformed);
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert_eq!(error.code, "BAD_REQUEST_BODY");
        assert_eq!(error.message, MALFORMED_MESSAGE);
    }
}
