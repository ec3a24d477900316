//! WebSocket close frames for the ways a bridged call can end.
//!
//! | end | code |
//! |---|---|
//! | gRPC OK | 1000 |
//! | a binary frame from the client | 1003 |
//! | a text frame that is not a valid message | 1007 |
//! | backend unreachable | 1014 |
//! | the gateway shuts down | 1001 (`SHUTTING_DOWN: ...`) |
//! | the client stopped answering pings | 1001 |
//! | any other gRPC status `c` | `4000 + c` (e.g. 4005 NOT_FOUND) |
//!
//! The reason is `CODE_NAME: message`, cut to the protocol's 123 bytes.

use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::error::GrpcError;
use super::status::code_name;
use super::transcode::TranscodeError;
use crate::upstream::UpstreamError;

/// Most bytes a close reason may have.
const MAX_REASON: usize = 123;

pub fn normal() -> CloseFrame {
    frame(1000, "OK".into())
}

pub fn going_away() -> CloseFrame {
    frame(1001, format!("SHUTTING_DOWN: {}", GrpcError::ShuttingDown))
}

/// The client stopped answering pings.
pub fn ping_timeout() -> CloseFrame {
    frame(
        crate::ws_keepalive::PING_TIMEOUT_CODE,
        crate::ws_keepalive::PING_TIMEOUT_REASON.into(),
    )
}

pub fn binary_refused() -> CloseFrame {
    frame(
        1003,
        "INVALID_ARGUMENT: send each message as a JSON text frame".into(),
    )
}

pub fn invalid_message(error: &TranscodeError) -> CloseFrame {
    frame(1007, format!("{}: {error}", error.code()))
}

pub fn for_error(error: &GrpcError) -> CloseFrame {
    error.log_stream_end();
    let code = match error {
        GrpcError::Upstream(UpstreamError::Unavailable { .. }) => 1014,
        other => 4000 + u16::try_from(other.grpc_code()).unwrap_or(2),
    };
    frame(
        code,
        format!(
            "{}: {}",
            code_name(error.grpc_code()),
            error.public_message()
        ),
    )
}

fn frame(code: u16, reason: String) -> CloseFrame {
    CloseFrame {
        code: CloseCode::from(code),
        reason: truncate(reason).into(),
    }
}

fn truncate(mut reason: String) -> String {
    if reason.len() > MAX_REASON {
        let mut cut = MAX_REASON;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::status::RpcStatus;

    fn code(close: &CloseFrame) -> u16 {
        u16::from(close.code)
    }

    #[test]
    fn grpc_statuses_map_to_4000_plus_code() {
        let status = GrpcError::Status(RpcStatus {
            code: 5,
            message: "order x not found".into(),
            details: vec![],
        });
        let close = for_error(&status);
        assert_eq!(code(&close), 4005);
        assert_eq!(close.reason.as_str(), "NOT_FOUND: order x not found");
    }

    #[test]
    fn client_and_backend_failures_have_their_own_codes() {
        assert_eq!((code(&normal()), normal().reason.as_str()), (1000, "OK"));
        assert_eq!(code(&binary_refused()), 1003);
        assert_eq!(code(&going_away()), 1001);
        assert_eq!(
            code(&invalid_message(&TranscodeError::MalformedJson("x".into()))),
            1007
        );
        let down = UpstreamError::Unavailable {
            backend: "orders-grpc".into(),
            reason: "tcp connect error: Connection refused (os error 111)".into(),
            source: None,
        };
        let close = for_error(&GrpcError::Upstream(down));
        assert_eq!(code(&close), 1014);
        // The reason is generic: no backend name, no connection error.
        assert_eq!(
            close.reason.as_str(),
            "UNAVAILABLE: the upstream service is unavailable"
        );
    }

    #[test]
    fn long_reasons_are_cut_on_a_char_boundary() {
        let reason = truncate("é".repeat(100));
        assert!(reason.len() <= MAX_REASON && reason.chars().all(|c| c == 'é'));
    }
}
