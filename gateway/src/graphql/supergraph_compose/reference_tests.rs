//! Our composer against an independent one. The mock subgraphs' SDLs and
//! the supergraph `@theguild/federation-composition` (MIT) composes from
//! them are committed under `tests/fixtures/compose-reference/` (see its
//! `compose.mjs`; the tests crate checks that the SDL files match the live
//! mocks). Here the two supergraphs must say the same thing (every type,
//! field, argument and directive, descriptions and directive definitions
//! aside) and the planner must make the same plan on both.

use std::collections::BTreeSet;
use std::path::PathBuf;

use graphql_tools::parser::query::{Directive, Value};
use graphql_tools::parser::schema::{Definition, Document, Field, InputValue, TypeDefinition};
use hive_router_query_planner::utils::parsing::safe_parse_schema;

use super::tests::plan;
use super::*;

/// The subgraphs in their `join__Graph` order, with their default URLs.
const SUBGRAPHS: [(&str, u16); 4] = [
    ("orders", 7111),
    ("users", 7112),
    ("products", 7113),
    ("payments", 7114),
];

/// One operation per federation feature the mocks use.
const OPERATIONS: &[&str] = &[
    "query($id: ID!) { order(id: $id) { id status total createdAt } }",
    "query($id: ID!) { order(id: $id) { customer { name email } payment { status amount } } }",
    "query($id: ID!) { order(id: $id) { items { quantity product { name sku price } } } }",
    "query($id: ID!) { order(id: $id) { shippingEstimate } }",
    "query($id: ID!) { payment(orderId: $id) { payer { name } } }",
    "query($id: ID!) { payment(orderId: $id) { payer { name email } } }",
    "query($id: ID!) { payment(orderId: $id) { method { label ... on CardMethod { wallet } ... on PaypalMethod { accountEmail } } } }",
    "query($t: String!) { search(text: $t) { __typename ... on Order { id total customer { name } } ... on Product { name price } } }",
    "{ orders(first: 2) { nodes { id total items { product { weightGrams } } } } }",
    "{ products { id name price } customers { id name } }",
    "mutation($id: ID!) { updateOrderStatus(id: $id, status: SHIPPED) { id status customer { name } } }",
    "subscription { orderStatusChanged { status order { id customer { name } } } }",
    "query($id: ID!) { order(id: $id) { customer { email } payment { method { ... on PaypalMethod { accountEmail } } } } }",
];

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/compose-reference")
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn ours() -> String {
    let subgraphs: Vec<SubgraphSdl> = SUBGRAPHS
        .iter()
        .map(|(name, port)| SubgraphSdl {
            name: (*name).to_owned(),
            url: format!("http://127.0.0.1:{port}/graphql"),
            sdl: read(fixtures().join(format!("subgraphs/{name}.graphql"))),
        })
        .collect();
    compose_supergraph(&subgraphs).expect("our composer composes the mocks")
}

fn reference() -> String {
    read(fixtures().join("supergraph.graphql"))
}

#[test]
fn both_supergraphs_say_the_same_thing() {
    let ours = facts(&safe_parse_schema(&ours()).expect("ours parses"));
    let reference = facts(&safe_parse_schema(&reference()).expect("reference parses"));
    let missing: Vec<_> = reference.difference(&ours).collect();
    let extra: Vec<_> = ours.difference(&reference).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "only in the reference: {missing:#?}\nonly in ours: {extra:#?}"
    );
}

#[test]
fn the_planner_makes_the_same_plans_on_both() {
    let (ours, reference) = (ours(), reference());
    for operation in OPERATIONS {
        assert_eq!(
            plan(&ours, operation),
            plan(&reference, operation),
            "{operation}"
        );
    }
}

/// Every statement the supergraph makes, one string each.
fn facts(document: &Document<'static, String>) -> BTreeSet<String> {
    let mut facts = BTreeSet::new();
    for definition in &document.definitions {
        match definition {
            Definition::SchemaDefinition(schema) => {
                let roots = [&schema.query, &schema.mutation, &schema.subscription];
                facts.insert(format!("schema {roots:?}"));
                // The linked specs (the authorization ones among them).
                facts.extend(
                    schema
                        .directives
                        .iter()
                        .map(|d| format!("schema {}", directive(d))),
                );
            }
            Definition::TypeDefinition(ty) if !is_spec_type(type_name(ty)) => {
                type_facts(ty, &mut facts);
            }
            _ => {}
        }
    }
    facts
}

fn type_facts(ty: &TypeDefinition<'static, String>, facts: &mut BTreeSet<String>) {
    let name = type_name(ty);
    let mut on = |subject: String, directives: &[Directive<'static, String>]| {
        facts.insert(subject.clone());
        facts.extend(
            directives
                .iter()
                .map(|d| format!("{subject} {}", directive(d))),
        );
    };
    match ty {
        TypeDefinition::Scalar(scalar) => on(format!("scalar {name}"), &scalar.directives),
        TypeDefinition::Object(object) => {
            let interfaces = sorted(&object.implements_interfaces);
            on(
                format!("type {name} implements {interfaces:?}"),
                &object.directives,
            );
            object
                .fields
                .iter()
                .for_each(|f| field_facts(name, f, &mut on));
        }
        TypeDefinition::Interface(interface) => {
            let interfaces = sorted(&interface.implements_interfaces);
            on(
                format!("interface {name} implements {interfaces:?}"),
                &interface.directives,
            );
            interface
                .fields
                .iter()
                .for_each(|f| field_facts(name, f, &mut on));
        }
        TypeDefinition::Union(union) => {
            on(
                format!("union {name} = {:?}", sorted(&union.types)),
                &union.directives,
            );
        }
        TypeDefinition::Enum(enumeration) => {
            on(format!("enum {name}"), &enumeration.directives);
            for value in &enumeration.values {
                on(format!("enum {name}.{}", value.name), &value.directives);
            }
        }
        TypeDefinition::InputObject(input) => {
            on(format!("input {name}"), &input.directives);
            for field in &input.fields {
                on(
                    format!("input {name}.{}", input_value(field)),
                    &field.directives,
                );
            }
        }
    }
}

fn field_facts(
    owner: &str,
    field: &Field<'static, String>,
    on: &mut impl FnMut(String, &[Directive<'static, String>]),
) {
    let subject = format!("field {owner}.{}: {}", field.name, field.field_type);
    on(subject.clone(), &field.directives);
    for argument in &field.arguments {
        on(
            format!("{subject} ({})", input_value(argument)),
            &argument.directives,
        );
    }
}

fn input_value(value: &InputValue<'static, String>) -> String {
    match &value.default_value {
        Some(default) => format!("{}: {} = {default}", value.name, value.value_type),
        None => format!("{}: {}", value.name, value.value_type),
    }
}

/// A directive with its arguments sorted, arguments at their default
/// value left out, and field sets with canonical spacing.
fn directive(directive: &Directive<'static, String>) -> String {
    let mut arguments: Vec<String> = directive
        .arguments
        .iter()
        .filter(|(name, value)| !is_default_argument(name, value))
        .map(|(name, value)| match value {
            Value::String(text) => format!("{name}: {:?}", canonical_field_set(text)),
            other => format!("{name}: {other}"),
        })
        .collect();
    arguments.sort();
    format!("@{}({})", directive.name, arguments.join(", "))
}

fn is_default_argument(name: &str, value: &Value<'static, String>) -> bool {
    matches!(
        (name, value),
        ("resolvable", Value::Boolean(true))
            | (
                "extension" | "isInterfaceObject" | "external" | "usedOverridden",
                Value::Boolean(false)
            )
    )
}

/// `items{product{weightGrams}}` and `items { product { weightGrams } }`
/// are the same field set.
fn canonical_field_set(text: &str) -> String {
    let spaced = text.replace('{', " { ").replace('}', " } ");
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn type_name<'a>(ty: &'a TypeDefinition<'static, String>) -> &'a str {
    match ty {
        TypeDefinition::Scalar(t) => &t.name,
        TypeDefinition::Object(t) => &t.name,
        TypeDefinition::Interface(t) => &t.name,
        TypeDefinition::Union(t) => &t.name,
        TypeDefinition::Enum(t) => &t.name,
        TypeDefinition::InputObject(t) => &t.name,
    }
}

/// The link and join specs' own types; `join__Graph` (the subgraphs'
/// names and URLs) is compared.
fn is_spec_type(name: &str) -> bool {
    name != "join__Graph" && (name.starts_with("join__") || name.starts_with("link__"))
}

fn sorted(names: &[String]) -> Vec<&str> {
    let mut names: Vec<&str> = names.iter().map(String::as_str).collect();
    names.sort_unstable();
    names
}
