//! The one-pass reader against `serde_json::Value`'s own reading of the
//! same objects, and the shapes around an object.

use serde_json::json;

use super::*;

/// What a `serde_json::Map` holds for `text`, put into [`Members`] member
/// by member: the reference the one-pass reader must agree with.
fn through_value(text: &str) -> Members {
    let Value::Object(map) = serde_json::from_str::<Value>(text).unwrap() else {
        panic!("not an object: {text}");
    };
    let mut members = Members::default();
    for (name, value) in map {
        members.insert(&name, value);
    }
    members
}

fn one_pass(text: &str) -> Members {
    match serde_json::from_str::<Element>(text).unwrap() {
        Element::Object(members) => *members,
        Element::NotObject => panic!("not an object: {text}"),
    }
}

#[test]
fn every_object_reads_as_a_json_map_would() {
    let objects = [
        r#"{}"#,
        r#"{"type":"A","id":"1","source":"/s","specversion":"1.0"}"#,
        r#"{"type":"A","type":"B"}"#,
        r#"{"x":1,"type":"A","x":2,"y":null}"#,
        r#"{"ty\u0070e":"escaped","d\u0061ta":{"k":[1,2,{"z":null}]}}"#,
        r#"{"event_id":"7","event_type":"T","occurred_at":"2026-11-30T10:00:00Z","payload":{"a":1}}"#,
        r#"{"data":null,"data_base64":"AAE=","subject":"","time":5,"datacontenttype":true}"#,
        r#"{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","n":1.5e3,"neg":-2,"big":18446744073709551615}"#,
        r#"{"Upper":1,"with space":2,"":3,"\u00e9":4}"#,
    ];
    for text in objects {
        assert_eq!(one_pass(text), through_value(text), "{text}");
    }
}

#[test]
fn other_members_keep_their_first_place_and_last_value() {
    let members = one_pass(r#"{"b":1,"a":2,"b":3}"#);
    assert_eq!(
        members.into_other(),
        [("b".to_owned(), json!(3)), ("a".to_owned(), json!(2))]
    );
}

#[test]
fn anything_but_an_object_is_not_an_object() {
    for text in [
        r#"[{"type":"A"},[1,[2]]]"#,
        r#""s""#,
        "1",
        "-1",
        "1.5",
        "true",
        "null",
    ] {
        assert!(
            matches!(
                serde_json::from_str::<Element>(text),
                Ok(Element::NotObject)
            ),
            "{text}"
        );
    }
}

#[test]
fn a_batch_keeps_up_to_its_limit_and_counts_the_rest() {
    let Elements::Array { kept, count } =
        batch_elements(br#"[{"type":"A"},2,{"type":"C"},{},[]]"#, 2).unwrap()
    else {
        panic!("an array");
    };
    assert_eq!(count, 5);
    assert_eq!(kept.len(), 2);
    assert!(matches!(kept[1], Element::NotObject));
    let Elements::Array { kept, count } = batch_elements(b"[]", 2).unwrap() else {
        panic!("an array");
    };
    assert_eq!((kept.len(), count), (0, 0));
}

#[test]
fn a_batch_that_is_not_an_array_says_so_and_bad_json_anywhere_is_an_error() {
    for text in [r#"{"type":"A"}"#, "1", r#""x""#, "null"] {
        assert!(
            matches!(batch_elements(text.as_bytes(), 2), Ok(Elements::NotArray)),
            "{text}"
        );
    }
    // Past the limit, and after the array, the body is still checked.
    for text in [r#"[{},{},{"#, r#"[{},{},{}] x"#, r#"[{"a":}]"#, ""] {
        assert!(batch_elements(text.as_bytes(), 2).is_err(), "{text}");
    }
}

#[test]
fn each_attribute_is_found_by_its_name_and_no_other_name_is_one() {
    for attribute in Attribute::ALL {
        assert_eq!(Attribute::named(attribute.name()), Some(attribute));
    }
    for other in ["Type", "event_type", "traceparent", "", "data_base"] {
        assert_eq!(Attribute::named(other), None, "{other}");
    }
}
