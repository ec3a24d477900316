use std::path::Path;

use prost_reflect::{DescriptorPool, MessageDescriptor};
use serde_json::{Value, json};

use super::*;
use crate::grpc::path_template;
use crate::protos::descriptors::compile_protos;

pub(crate) fn kitchen_pool() -> DescriptorPool {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let includes = [root.join("testdata/grpc"), root.join("../proto")];
    compile_protos(&[includes[0].join("kitchen.proto")], &includes).unwrap()
}

fn sink() -> MessageDescriptor {
    kitchen_pool().get_message_by_name("kitchen.Sink").unwrap()
}

fn round_trip(input: Value) -> Value {
    let message = message_from_json(
        &sink(),
        input.to_string().as_bytes(),
        JsonOptions::default(),
    )
    .unwrap();
    serde_json::from_slice(&message_to_json(&message)).unwrap()
}

fn reject(input: &str) -> TranscodeError {
    message_from_json(&sink(), input.as_bytes(), JsonOptions::default()).unwrap_err()
}

#[test]
fn names_in_both_forms_come_out_lower_camel_case() {
    let out = round_trip(json!({"unsigned_big": "7", "unsignedBig": null, "small": 1}));
    assert_eq!(out["unsignedBig"], json!("7"));
    assert!(out.get("unsigned_big").is_none());
    assert_eq!(
        round_trip(json!({"unsignedBig": 8}))["unsignedBig"],
        json!("8")
    );
}

#[test]
fn enums_by_name_or_number_come_out_by_name() {
    assert_eq!(round_trip(json!({"color": "BLUE"}))["color"], json!("BLUE"));
    assert_eq!(round_trip(json!({"color": 1}))["color"], json!("RED"));
}

#[test]
fn int64_accepts_strings_and_numbers_and_emits_strings() {
    assert_eq!(
        round_trip(json!({"big": "-9223372036854775808"}))["big"],
        json!("-9223372036854775808")
    );
    assert_eq!(round_trip(json!({"big": 42}))["big"], json!("42"));
}

#[test]
fn well_known_types_use_their_json_forms() {
    let out = round_trip(json!({
        "at": "2024-01-02T03:04:05Z", "took": "1.500s", "maybe": 5,
        "extra": {"a": [1, "x", null, {"b": true}]}
    }));
    assert_eq!(out["at"], json!("2024-01-02T03:04:05Z"));
    assert_eq!(out["took"], json!("1.500s"));
    assert_eq!(out["maybe"], json!(5));
    assert_eq!(out["extra"], json!({"a": [1.0, "x", null, {"b": true}]}));
}

#[test]
fn default_values_are_emitted() {
    let out = round_trip(json!({}));
    assert_eq!(out["color"], json!("COLOR_UNSPECIFIED"));
    assert_eq!(out["big"], json!("0"));
    assert_eq!(out["tags"], json!([]));
}

#[test]
fn malformed_json_is_rejected() {
    assert!(matches!(
        reject("{\"id\": "),
        TranscodeError::MalformedJson(_)
    ));
    assert!(matches!(
        reject("{} trailing"),
        TranscodeError::MalformedJson(_)
    ));
}

#[test]
fn unknown_fields_are_rejected_or_ignored() {
    assert!(
        matches!(reject(r#"{"nope": 1}"#), TranscodeError::UnknownField(m) if m.contains("nope"))
    );
    let ignore = JsonOptions {
        unknown_fields: UnknownFields::Ignore,
        ..JsonOptions::default()
    };
    assert!(message_from_json(&sink(), br#"{"nope": 1, "id": "x"}"#, ignore).is_ok());
}

#[test]
fn wrong_types_and_overflow_are_invalid_values() {
    assert!(matches!(
        reject(r#"{"small": "abc"}"#),
        TranscodeError::InvalidValue(_)
    ));
    assert!(matches!(
        reject(r#"{"flag": "yes"}"#),
        TranscodeError::InvalidValue(_)
    ));
    assert!(matches!(
        reject(r#"{"big": "9223372036854775808"}"#),
        TranscodeError::InvalidValue(_)
    ));
    assert!(matches!(
        reject(r#"{"small": 2147483648}"#),
        TranscodeError::InvalidValue(_)
    ));
    assert!(matches!(
        reject(r#"{"color": "GREEN"}"#),
        TranscodeError::InvalidValue(_)
    ));
    assert!(matches!(
        reject(r#"{"shelf": []}"#),
        TranscodeError::InvalidValue(_)
    ));
}

#[test]
fn nesting_deeper_than_the_limit_is_rejected_before_parsing() {
    let deep = format!("{{\"extra\": {}1{}}}", "[".repeat(40), "]".repeat(40));
    assert_eq!(reject(&deep), TranscodeError::TooDeep { limit: 32 });
    assert!(
        check_depth(br#"{"a": "[[[[[[[[[[[[["}"#, 2).is_ok(),
        "brackets inside strings do not count"
    );
    assert!(
        check_depth(br#"{"a": "\"[[[[["}"#, 2).is_ok(),
        "escaped quotes stay inside the string"
    );
}

fn bindings(template: &str, body: BodyBinding) -> RequestBindings {
    RequestBindings {
        body,
        path: path_template::parse(template).unwrap().variables,
    }
}

fn build(
    bindings: &RequestBindings,
    body: &str,
    params: &[(&str, &str)],
    query: Option<&str>,
) -> Result<Value, TranscodeError> {
    let lookup = |name: &str| {
        params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    };
    let message = bindings.build(
        &sink(),
        body.as_bytes(),
        lookup,
        query,
        JsonOptions::default(),
    )?;
    Ok(serde_json::from_slice(&message_to_json(&message)).unwrap())
}

#[test]
fn path_variables_and_query_fill_the_message() {
    let rule = bindings(
        "/v1/shelves/{shelf.name=shelves/*}/sinks/{id}",
        BodyBinding::None,
    );
    let out = build(
        &rule,
        "",
        &[("_p0", "s1"), ("id", "k9")],
        Some("big=12&flag=true&tags=a&tags=b&color=RED&shelf.height=3"),
    )
    .unwrap();
    assert_eq!(out["shelf"], json!({"name": "shelves/s1", "height": 3}));
    assert_eq!(
        (out["id"].clone(), out["big"].clone(), out["flag"].clone()),
        (json!("k9"), json!("12"), json!(true))
    );
    assert_eq!(out["tags"], json!(["a", "b"]));
    assert_eq!(out["color"], json!("RED"));
}

#[test]
fn bad_parameters_are_rejected() {
    let rule = bindings("/v1/sinks/{id}", BodyBinding::None);
    let bad = |query| build(&rule, "", &[("id", "x")], Some(query)).unwrap_err();
    assert!(matches!(bad("nope=1"), TranscodeError::BadParameter { name, .. } if name == "nope"));
    assert!(matches!(
        bad("flag=maybe"),
        TranscodeError::BadParameter { .. }
    ));
    assert!(matches!(bad("small=abc"), TranscodeError::InvalidValue(_)));
    assert!(matches!(
        bad("shelves.name=x"),
        TranscodeError::BadParameter { .. }
    ));
}

#[test]
fn body_star_merges_with_path_and_path_wins() {
    let rule = bindings("/v1/sinks/{id}", BodyBinding::All);
    let out = build(
        &rule,
        r#"{"id": "from-body", "small": 4}"#,
        &[("id", "from-path")],
        None,
    )
    .unwrap();
    assert_eq!(
        (out["id"].clone(), out["small"].clone()),
        (json!("from-path"), json!(4))
    );
    assert!(matches!(
        build(&rule, "[1]", &[("id", "x")], None),
        Err(TranscodeError::InvalidValue(_))
    ));
}

#[test]
fn body_field_binds_one_field() {
    let rule = bindings("/v1/sinks/{id}", BodyBinding::Field("shelf".into()));
    let out = build(
        &rule,
        r#"{"name": "top", "height": 2}"#,
        &[("id", "k")],
        Some("small=5"),
    )
    .unwrap();
    assert_eq!(out["shelf"], json!({"name": "top", "height": 2}));
    assert_eq!(out["small"], json!(5));
}

#[test]
fn undecodable_protobuf_is_reported() {
    let error = json_from_protobuf(&sink(), bytes::Bytes::from_static(&[0xff, 0xff])).unwrap_err();
    assert_eq!(error.code(), "UNDECODABLE_RESPONSE");
}
