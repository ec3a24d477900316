use async_nats::{Message, StatusCode};

use super::{AckBody, AckError, flat_ack, read_ack};
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

/// The bodies the fast reader is checked on: acks as nats-server writes
/// them, and shapes it must leave to the full decode.
const BODIES: &[&str] = &[
    r#"{"stream":"S","seq":1}"#,
    r#"{"stream":"GATEWAY_orders","seq":18446744073709551615}"#,
    r#"{"stream":"S","seq":7,"duplicate":true}"#,
    r#"{"stream":"S","seq":7,"duplicate":false}"#,
    r#"{"stream":"S","domain":"hub","seq":9}"#,
    r#"{"stream":"S","seq":9,"val":null}"#,
    r#"{"seq":3,"stream":"S, with a comma"}"#,
    r#"{"stream":"S \"quoted\"","seq":3}"#,
    r#"{"str\u0065am":"S","seq":3}"#,
    r#"{"stream":"S", "seq":3}"#,
    r#"{"stream":"S", "domain":"hub", "seq":3, "duplicate": true}"#,
    r#" { "stream" : "S" , "seq" : 3 } "#,
    "{\"stream\":\"S\",\n\t\"seq\":3}\r\n",
    r#"{"stream":"S", "seq":3 4}"#,
    r#"{"stream":"S" "seq":3}"#,
    r#"{"stream":"S", "seq":3}}"#,
    r#"{"stream":"S", "seq":3} x"#,
    r#"{"stream":"S","seq":3,}"#,
    r#"{"stream":"S","seq":-3}"#,
    r#"{"stream":"S","seq":3.5}"#,
    r#"{"stream":"S","seq":"3"}"#,
    r#"{"stream":"S","seq":3,"duplicate":1}"#,
    r#"{"stream":"S","seq":3,"extra":{"a":1}}"#,
    r#"{"stream":"S","seq":3,"extra":[1,2]}"#,
    r#"{"error":{"code":503,"err_code":10077,"description":"nats: no stream"}}"#,
    r#"{"stream":"S"}"#,
    r#"{}"#,
    r#"{"stream":"S","seq":3"#,
    r#"{"stream""#,
    "",
];

#[test]
fn the_fast_reader_agrees_with_the_full_decode_whenever_it_answers() {
    let mut answered = 0;
    for body in BODIES {
        let Some(fast) = flat_ack(body.as_bytes()) else {
            continue;
        };
        answered += 1;
        let full: AckBody = serde_json::from_str(body).unwrap_or_else(|error| {
            panic!("{body}: the fast reader answered {fast:?}, serde refused: {error}")
        });
        assert!(full.error.is_none(), "{body}");
        assert_eq!(
            Some(fast),
            full.seq.map(|position| Published {
                position,
                duplicate: full.duplicate
            }),
            "{body}"
        );
    }
    assert_eq!(answered, 11, "the plain acks take the fast path");
}

#[test]
fn every_body_reads_the_same_through_read_ack_as_through_the_full_decode() {
    for body in BODIES {
        let through_read_ack = read_ack(&reply(body, None));
        let full = serde_json::from_str::<AckBody>(body);
        match (through_read_ack, full) {
            (Ok(read), Ok(full)) => {
                assert!(full.error.is_none(), "{body}");
                assert_eq!(Some(read.position), full.seq, "{body}");
                assert_eq!(read.duplicate, full.duplicate, "{body}");
            }
            (Err(AckError::Refused(_)), Ok(full)) => assert!(full.error.is_some(), "{body}"),
            (Err(AckError::Malformed(_)), Ok(full)) => {
                assert!(full.error.is_none() && full.seq.is_none(), "{body}")
            }
            (Err(AckError::Malformed(_)), Err(_)) => {}
            (read, full) => panic!("{body}: read_ack {read:?}, serde {:?}", full.is_ok()),
        }
    }
}
