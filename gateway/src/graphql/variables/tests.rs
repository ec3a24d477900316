use hive_router_query_planner::ast::operation::VariableDefinition;
use hive_router_query_planner::ast::value::Value as PlannerValue;
use hive_router_query_planner::state::supergraph_state::TypeNode;
use serde_json::{Map, Value, json};

use super::{InputTypes, MAX_ERRORS, coerce};

const SCHEMA: &str = r#"
    type Query { order(id: ID!): String }
    scalar ID
    scalar JSON
    enum Status { PENDING SHIPPED }
    input Item { productId: ID!, quantity: Int!, note: String, gift: Boolean = false }
    input Order { customerId: ID!, items: [Item!]!, status: Status }
    input Pick @oneOf { byId: ID, byName: String }
"#;

fn types() -> InputTypes {
    let document = graphql_tools::parser::parse_schema::<String>(SCHEMA)
        .expect("parses")
        .into_static();
    InputTypes::new(&document)
}

/// `[Name]!`-style type text to a `TypeNode`.
fn type_node(text: &str) -> TypeNode {
    if let Some(inner) = text.strip_suffix('!') {
        TypeNode::NonNull(Box::new(type_node(inner)))
    } else if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        TypeNode::List(Box::new(type_node(inner)))
    } else {
        TypeNode::Named(text.to_owned())
    }
}

fn definition(name: &str, type_text: &str) -> VariableDefinition {
    VariableDefinition {
        name: name.to_owned(),
        variable_type: type_node(type_text),
        default_value: None,
    }
}

fn values(json: Value) -> Map<String, Value> {
    json.as_object().expect("an object").clone()
}

/// The one error of `value` given for a variable `$v` of `type_text`.
fn error_of(type_text: &str, value: Value) -> String {
    let errors = coerce(
        &values(json!({ "v": value })),
        &[definition("v", type_text)],
        &types(),
    )
    .expect_err("refused");
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().unwrap_or_default()
}

fn accepts(type_text: &str, value: Value) {
    let result = coerce(
        &values(json!({ "v": value.clone() })),
        &[definition("v", type_text)],
        &types(),
    );
    assert_eq!(
        result.expect("accepted").get("v"),
        Some(&value),
        "{type_text}"
    );
}

#[test]
fn built_in_scalars_take_what_their_input_coercion_allows() {
    for (type_text, value) in [
        ("Int", json!(7)),
        ("Int", json!(-2147483648)),
        ("Int", json!(4.0)),
        ("Float", json!(1.5)),
        ("Float", json!(3)),
        ("String", json!("x")),
        ("Boolean", json!(true)),
        ("ID", json!("a1")),
        ("ID", json!(42)),
        ("JSON", json!({"any": ["thing"]})),
        ("Status", json!("SHIPPED")),
        ("Int", Value::Null),
    ] {
        accepts(type_text, value);
    }
    for (type_text, value, message) in [
        (
            "Int",
            json!("7"),
            "Int cannot represent non-integer value: \"7\"",
        ),
        (
            "Int",
            json!(1.5),
            "Int cannot represent non 32-bit signed integer value: 1.5",
        ),
        (
            "Int",
            json!(2147483648_u64),
            "Int cannot represent non 32-bit signed integer value: 2147483648",
        ),
        (
            "Float",
            json!("1.5"),
            "Float cannot represent non numeric value: \"1.5\"",
        ),
        (
            "String",
            json!(5),
            "String cannot represent a non string value: 5",
        ),
        (
            "Boolean",
            json!("true"),
            "Boolean cannot represent a non boolean value: \"true\"",
        ),
        ("ID", json!(true), "ID cannot represent value: true"),
        ("ID", json!(1.5), "ID cannot represent value: 1.5"),
        (
            "Status",
            json!("LOST"),
            "Value \"LOST\" does not exist in \"Status\" enum.",
        ),
        (
            "Status",
            json!(1),
            "Enum \"Status\" cannot represent non-string value: 1.",
        ),
    ] {
        let error = error_of(type_text, value.clone());
        assert!(
            error.starts_with(&format!("Variable \"$v\" got invalid value {value}; ")),
            "{error}"
        );
        assert!(
            error.ends_with(message),
            "{error} should end with {message}"
        );
    }
}

#[test]
fn null_missing_and_defaults() {
    assert_eq!(
        error_of("ID!", Value::Null),
        "Variable \"$v\" of non-null type \"ID!\" must not be null."
    );
    let types = types();
    let required = coerce(&Map::new(), &[definition("id", "ID!")], &types);
    assert_eq!(
        required.expect_err("missing"),
        vec!["Variable \"$id\" of required type \"ID!\" was not provided.".to_owned()]
    );
    let mut with_default = definition("first", "Int!");
    with_default.default_value = Some(PlannerValue::Int(10));
    let optional = definition("after", "String");
    let coerced = coerce(
        &values(json!({"unrelated": 1})),
        &[with_default, optional],
        &types,
    )
    .expect("defaults fill in");
    assert_eq!(
        Value::Object(coerced),
        json!({"first": 10}),
        "the default is added; a nullable variable left out stays out, as does one the operation does not define"
    );
}

#[test]
fn lists_take_a_single_item_and_name_the_bad_index() {
    accepts("[ID!]", json!("only"));
    accepts("[[Int]]", json!([[1, null], null]));
    let error = error_of("[ID!]!", json!(["a", null]));
    assert_eq!(
        error,
        "Variable \"$v\" got invalid value null at \"v[1]\"; Expected non-nullable type \"ID!\" not to be null."
    );
}

#[test]
fn input_objects_are_checked_field_by_field_with_the_path() {
    accepts(
        "Order!",
        json!({"customerId": "c1", "items": [{"productId": 3, "quantity": 2, "note": null}]}),
    );
    for (value, message) in [
        (
            json!({"customerId": "c1", "items": [{"productId": "p", "quantity": "two"}]}),
            "got invalid value \"two\" at \"v.items[0].quantity\"; Int cannot represent non-integer value: \"two\"",
        ),
        (
            json!({"customerId": "c1", "items": [], "extra": 1}),
            "; Field \"extra\" is not defined by type \"Order\".",
        ),
        (
            json!({"items": []}),
            "; Field \"customerId\" of required type \"ID!\" was not provided.",
        ),
        (
            json!({"customerId": "c1", "items": [{"productId": "p"}]}),
            "at \"v.items[0]\"; Field \"quantity\" of required type \"Int!\" was not provided.",
        ),
        (json!("c1"), "; Expected type \"Order\" to be an object."),
        (
            json!({"customerId": "c1", "items": [], "status": "LOST"}),
            "at \"v.status\"; Value \"LOST\" does not exist in \"Status\" enum.",
        ),
    ] {
        let error = error_of("Order", value);
        assert!(error.contains(message), "{error} should contain {message}");
    }
}

#[test]
fn a_one_of_input_takes_exactly_one_non_null_field() {
    accepts("Pick", json!({"byId": "1"}));
    for value in [
        json!({}),
        json!({"byId": "1", "byName": "x"}),
        json!({"byId": null}),
    ] {
        assert!(
            error_of("Pick", value)
                .ends_with("Exactly one key must be specified for OneOf type \"Pick\"."),
        );
    }
}

#[test]
fn errors_are_bounded_in_number_and_length() {
    let definitions: Vec<_> = (0..MAX_ERRORS + 5)
        .map(|i| definition(&format!("v{i}"), "Int!"))
        .collect();
    let errors = coerce(&Map::new(), &definitions, &types()).expect_err("all missing");
    assert_eq!(errors.len(), MAX_ERRORS + 1);
    assert!(errors[MAX_ERRORS].starts_with("Too many errors"));

    let long = "x".repeat(10_000);
    let error = error_of("Int", json!(long));
    assert!(error.len() < 300, "{} bytes", error.len());
    assert!(error.contains('…'));
}

#[test]
fn an_inaccessible_input_field_cannot_be_sent() {
    use crate::graphql::supergraph_compose::{SubgraphSdl, compose_supergraph};
    use hive_router_query_planner::consumer_schema::ConsumerSchema;
    use hive_router_query_planner::utils::parsing::safe_parse_schema;

    let sdl = r#"
        type Query { find(filter: Filter): String }
        input Filter { name: String, internal: String @inaccessible }
    "#;
    let supergraph = compose_supergraph(&[SubgraphSdl {
        name: "a".into(),
        url: "http://a/graphql".into(),
        sdl: sdl.into(),
    }])
    .expect("composes");
    let document = safe_parse_schema(&supergraph).expect("parses");
    let public = InputTypes::new(&ConsumerSchema::new_from_supergraph(&document).document);
    let definitions = [definition("f", "Filter")];
    assert!(coerce(&values(json!({"f": {"name": "n"}})), &definitions, &public).is_ok());
    let errors = coerce(
        &values(json!({"f": {"internal": "x"}})),
        &definitions,
        &public,
    )
    .expect_err("hidden field");
    assert!(errors[0].ends_with("Field \"internal\" is not defined by type \"Filter\"."));
}
