//! gRPC status codes, their HTTP equivalents, and reading `grpc-status`.
//!
//! [`http_status_for`] is the one table that maps a gRPC code to the HTTP
//! status a transcoded route answers with. [`read_status`] reads the
//! status, message and details a gRPC response carries in its trailers
//! (or in its headers, for a trailers-only response).

use base64::Engine as _;
use http::{HeaderMap, StatusCode};
use prost::Message as _;
use serde_json::{Value, json};

/// gRPC status codes, by number (grpc/doc/statuscodes.md).
pub mod code {
    pub const OK: i32 = 0;
    pub const CANCELLED: i32 = 1;
    pub const UNKNOWN: i32 = 2;
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const DEADLINE_EXCEEDED: i32 = 4;
    pub const NOT_FOUND: i32 = 5;
    pub const ALREADY_EXISTS: i32 = 6;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const FAILED_PRECONDITION: i32 = 9;
    pub const ABORTED: i32 = 10;
    pub const OUT_OF_RANGE: i32 = 11;
    pub const UNIMPLEMENTED: i32 = 12;
    pub const INTERNAL: i32 = 13;
    pub const UNAVAILABLE: i32 = 14;
    pub const DATA_LOSS: i32 = 15;
    pub const UNAUTHENTICATED: i32 = 16;
}

/// The HTTP status a transcoded route answers with for a gRPC code.
pub fn http_status_for(grpc_code: i32) -> StatusCode {
    match grpc_code {
        code::OK => StatusCode::OK,
        code::INVALID_ARGUMENT | code::FAILED_PRECONDITION | code::OUT_OF_RANGE => {
            StatusCode::BAD_REQUEST
        }
        code::UNAUTHENTICATED => StatusCode::UNAUTHORIZED,
        code::PERMISSION_DENIED => StatusCode::FORBIDDEN,
        code::NOT_FOUND => StatusCode::NOT_FOUND,
        code::ALREADY_EXISTS | code::ABORTED => StatusCode::CONFLICT,
        code::RESOURCE_EXHAUSTED => StatusCode::TOO_MANY_REQUESTS,
        code::CANCELLED => client_closed_request(),
        code::UNIMPLEMENTED => StatusCode::NOT_IMPLEMENTED,
        code::UNAVAILABLE => StatusCode::SERVICE_UNAVAILABLE,
        code::DEADLINE_EXCEEDED => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// nginx's 499 "client closed request".
fn client_closed_request() -> StatusCode {
    StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST)
}

/// The stable name of a gRPC code (`NOT_FOUND`), used as the error `code`.
pub fn code_name(grpc_code: i32) -> &'static str {
    // One table of names: the config reads retryable codes by them too.
    const NAMES: [&str; 17] = crate::config::model::GrpcCodeSet::NAMES;
    usize::try_from(grpc_code)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or("UNKNOWN")
}

/// A status a backend sent: code, decoded message and JSON details.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcStatus {
    pub code: i32,
    pub message: String,
    /// `google.protobuf.Any` details as `{"@type": .., "value": base64}`.
    pub details: Vec<Value>,
}

/// Why a response's `grpc-status` could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusReadError {
    #[error("the backend's response carries no grpc-status")]
    Missing,
    #[error("the backend's grpc-status {0:?} is not a status code")]
    Malformed(String),
}

/// Reads `grpc-status`, `grpc-message` and `grpc-status-details-bin`.
pub fn read_status(headers: &HeaderMap) -> Result<RpcStatus, StatusReadError> {
    let raw = headers.get("grpc-status").ok_or(StatusReadError::Missing)?;
    let text = raw.to_str().unwrap_or_default();
    let code = text
        .parse::<i32>()
        .ok()
        .filter(|c| (0..=16).contains(c) && !text.starts_with('+'))
        .ok_or_else(|| {
            StatusReadError::Malformed(String::from_utf8_lossy(raw.as_bytes()).into_owned())
        })?;
    let message = headers
        .get("grpc-message")
        .map(|value| {
            percent_encoding::percent_decode(value.as_bytes())
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default();
    let details = headers
        .get("grpc-status-details-bin")
        .map(|v| decode_details(v.as_bytes()))
        .unwrap_or_default();
    Ok(RpcStatus {
        code,
        message,
        details,
    })
}

/// `google.rpc.Status`, just enough to read its details.
#[derive(Clone, PartialEq, prost::Message)]
struct StatusProto {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

/// Decodes `grpc-status-details-bin` (unpadded or padded base64 of a
/// `google.rpc.Status`); undecodable details are dropped.
fn decode_details(raw: &[u8]) -> Vec<Value> {
    let trimmed: Vec<u8> = raw.iter().copied().filter(|b| *b != b'=').collect();
    let Ok(bytes) = base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed) else {
        return Vec::new();
    };
    let Ok(status) = StatusProto::decode(bytes.as_slice()) else {
        return Vec::new();
    };
    let encode = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    status
        .details
        .iter()
        .map(|any| json!({"@type": any.type_url, "value": encode(&any.value)}))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(grpc: i32) -> u16 {
        http_status_for(grpc).as_u16()
    }

    #[test]
    fn ok_is_200() {
        assert_eq!(http(code::OK), 200);
    }
    #[test]
    fn invalid_argument_is_400() {
        assert_eq!(http(code::INVALID_ARGUMENT), 400);
    }
    #[test]
    fn failed_precondition_is_400() {
        assert_eq!(http(code::FAILED_PRECONDITION), 400);
    }
    #[test]
    fn out_of_range_is_400() {
        assert_eq!(http(code::OUT_OF_RANGE), 400);
    }
    #[test]
    fn unauthenticated_is_401() {
        assert_eq!(http(code::UNAUTHENTICATED), 401);
    }
    #[test]
    fn permission_denied_is_403() {
        assert_eq!(http(code::PERMISSION_DENIED), 403);
    }
    #[test]
    fn not_found_is_404() {
        assert_eq!(http(code::NOT_FOUND), 404);
    }
    #[test]
    fn already_exists_is_409() {
        assert_eq!(http(code::ALREADY_EXISTS), 409);
    }
    #[test]
    fn aborted_is_409() {
        assert_eq!(http(code::ABORTED), 409);
    }
    #[test]
    fn resource_exhausted_is_429() {
        assert_eq!(http(code::RESOURCE_EXHAUSTED), 429);
    }
    #[test]
    fn cancelled_is_499() {
        assert_eq!(http(code::CANCELLED), 499);
    }
    #[test]
    fn unimplemented_is_501() {
        assert_eq!(http(code::UNIMPLEMENTED), 501);
    }
    #[test]
    fn unavailable_is_503() {
        assert_eq!(http(code::UNAVAILABLE), 503);
    }
    #[test]
    fn deadline_exceeded_is_504() {
        assert_eq!(http(code::DEADLINE_EXCEEDED), 504);
    }
    #[test]
    fn everything_else_is_500() {
        for other in [code::UNKNOWN, code::INTERNAL, code::DATA_LOSS, 17, -1] {
            assert_eq!(http(other), 500, "grpc code {other}");
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (http::HeaderName::from_static(k), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn reads_code_and_percent_decoded_message() {
        let status = read_status(&headers(&[
            ("grpc-status", "5"),
            ("grpc-message", "order%20x%20not found"),
        ]))
        .unwrap();
        assert_eq!(
            (status.code, status.message.as_str()),
            (5, "order x not found")
        );
    }

    #[test]
    fn missing_and_malformed_status_are_errors() {
        assert_eq!(
            read_status(&HeaderMap::new()),
            Err(StatusReadError::Missing)
        );
        for bad in ["abc", "", "17", "-1", "+3", "3.0"] {
            assert!(
                matches!(
                    read_status(&headers(&[("grpc-status", bad)])),
                    Err(StatusReadError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn decodes_status_details() {
        let any = prost_types::Any {
            type_url: "type.googleapis.com/x.Y".into(),
            value: vec![1, 2],
        };
        let proto = StatusProto {
            code: 3,
            message: "m".into(),
            details: vec![any],
        };
        let encoded =
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(proto.encode_to_vec());
        let status = read_status(&headers(&[
            ("grpc-status", "3"),
            ("grpc-status-details-bin", &encoded),
        ]))
        .unwrap();
        assert_eq!(
            status.details,
            vec![json!({"@type": "type.googleapis.com/x.Y", "value": "AQI="})]
        );
    }
}
