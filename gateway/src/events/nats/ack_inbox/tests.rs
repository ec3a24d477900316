use async_nats::{Message, StatusCode};

use super::{AckError, read_ack};
use crate::events::store::Published;

fn reply(payload: &str, status: Option<StatusCode>) -> Message {
    Message {
        subject: "_INBOX.x.1".into(),
        reply: None,
        payload: bytes::Bytes::copy_from_slice(payload.as_bytes()),
        headers: None,
        status,
        description: None,
        length: payload.len(),
    }
}

#[test]
fn an_ack_gives_the_position_and_whether_it_was_a_duplicate() {
    let stored = read_ack(&reply(r#"{"stream":"S","seq":42}"#, None)).unwrap();
    assert_eq!(
        stored,
        Published {
            position: 42,
            duplicate: false
        }
    );
    let seen = read_ack(&reply(
        r#"{"stream":"S","seq":7,"duplicate":true,"domain":"d"}"#,
        None,
    ))
    .unwrap();
    assert_eq!(
        seen,
        Published {
            position: 7,
            duplicate: true
        }
    );
}

#[test]
fn a_refusal_is_not_transient_and_keeps_the_servers_description() {
    let error = read_ack(&reply(
        r#"{"error":{"code":400,"err_code":10060,"description":"expected stream does not match"}}"#,
        None,
    ))
    .unwrap_err();
    assert!(matches!(error, AckError::Refused(_)), "{error:?}");
    assert!(!error.is_transient());
    assert!(
        error.to_string().contains("expected stream does not match"),
        "{error}"
    );
}

#[test]
fn no_responders_is_transient() {
    let error = read_ack(&reply("", Some(StatusCode::NO_RESPONDERS))).unwrap_err();
    assert!(matches!(error, AckError::NoStream), "{error:?}");
    assert!(error.is_transient());
}

#[test]
fn an_ack_that_does_not_decode_or_has_no_position_is_malformed() {
    for body in ["", "not json", r#"{"stream":"S"}"#, r#"{"seq":"7"}"#] {
        let error = read_ack(&reply(body, None)).unwrap_err();
        assert!(matches!(error, AckError::Malformed(_)), "{body}: {error:?}");
        assert!(!error.is_transient());
    }
}
