//! Variable values checked against the operation's variable definitions
//! before anything is planned or fetched: the specification's
//! "CoerceVariableValues" (GraphQL, October 2021, §6.1.2) and the input
//! coercion rules of each type (§3.5 scalars, §3.9 enums, §3.10 input
//! objects, §3.11 lists, §3.12 non-null), against the public schema.
//!
//! A value that does not coerce is a request error (`BAD_USER_INPUT`), as
//! graphql-js, Apollo Router and Hive Router answer it, rather than an
//! operation sent on to a subgraph that fails it there. The values are
//! checked, not rewritten: what coerces here is sent as the client wrote
//! it (a one-item list as its item, an `ID` as a number), and each
//! subgraph's own coercion gives the same result.
//!
//! Bounds: the walk visits each JSON value of the request's variables
//! once (the body is bounded by the route's `max_body`, its nesting by
//! serde_json's recursion limit of 128); at most [`MAX_ERRORS`] are
//! reported, and each quotes at most [`QUOTE_BYTES`] of the value.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use graphql_tools::static_graphql::schema::{Definition, Document, TypeDefinition};
use hive_router_query_planner::ast::operation::VariableDefinition;
use hive_router_query_planner::ast::value::Value as PlannerValue;
use hive_router_query_planner::state::supergraph_state::TypeNode;
use serde_json::{Map, Value};

/// Errors reported for one request at most; then a last one says so.
pub const MAX_ERRORS: usize = 10;
/// Bytes of an offending value quoted in its error at most.
pub const QUOTE_BYTES: usize = 64;

type FastHash = foldhash::fast::RandomState;

/// Coerced by [`builtin_scalar`] whatever the schema declares.
const BUILT_IN_SCALARS: [&str; 5] = ["Int", "Float", "String", "Boolean", "ID"];

/// The public schema's input types, indexed once per supergraph.
#[derive(Debug, Default)]
pub struct InputTypes {
    types: HashMap<Box<str>, InputDefinition, FastHash>,
}

#[derive(Debug)]
enum InputDefinition {
    /// A custom scalar: any JSON value (its subgraph coerces it).
    Scalar,
    /// The enum's public values.
    Enum(HashSet<Box<str>, FastHash>),
    Object {
        fields: Vec<InputField>,
        /// The fields' names, for a key's lookup in constant time.
        names: HashSet<Box<str>, FastHash>,
        /// `@oneOf`: exactly one field, not null.
        one_of: bool,
    },
}

#[derive(Debug)]
struct InputField {
    name: Box<str>,
    field_type: TypeNode,
    has_default: bool,
}

impl InputTypes {
    /// Indexes the scalars, enums and input objects of `public` (the
    /// consumer schema: `@inaccessible` fields and values are not there,
    /// so a client cannot send them).
    pub fn new(public: &Document) -> Self {
        let mut types = HashMap::default();
        for definition in &public.definitions {
            let Definition::TypeDefinition(definition) = definition else {
                continue;
            };
            let (name, input) = match definition {
                // A schema may declare the built-in scalars too; their
                // coercion is the specification's, not "anything".
                TypeDefinition::Scalar(scalar)
                    if BUILT_IN_SCALARS.contains(&scalar.name.as_str()) =>
                {
                    continue;
                }
                TypeDefinition::Scalar(scalar) => (&scalar.name, InputDefinition::Scalar),
                TypeDefinition::Enum(enumeration) => (
                    &enumeration.name,
                    InputDefinition::Enum(
                        enumeration
                            .values
                            .iter()
                            .map(|v| v.name.as_str().into())
                            .collect(),
                    ),
                ),
                TypeDefinition::InputObject(object) => (
                    &object.name,
                    InputDefinition::Object {
                        names: object
                            .fields
                            .iter()
                            .map(|f| f.name.as_str().into())
                            .collect(),
                        fields: object
                            .fields
                            .iter()
                            .map(|field| InputField {
                                name: field.name.as_str().into(),
                                field_type: TypeNode::from(&field.value_type),
                                has_default: field.default_value.is_some(),
                            })
                            .collect(),
                        one_of: object.directives.iter().any(|d| d.name == "oneOf"),
                    },
                ),
                _ => continue,
            };
            types.insert(name.as_str().into(), input);
        }
        Self { types }
    }
}

/// The operation's variables: `provided` checked against `definitions`,
/// plus the definitions' defaults for those not provided. Variables the
/// operation does not define are ignored (and not sent on). `Err` holds
/// one message per problem, in definition order.
pub fn coerce(
    provided: &Map<String, Value>,
    definitions: &[VariableDefinition],
    types: &InputTypes,
) -> Result<Map<String, Value>, Vec<String>> {
    let mut checker = Checker {
        types,
        path: String::new(),
        errors: Vec::new(),
    };
    let mut variables = Map::new();
    for definition in definitions {
        if checker.full() {
            break;
        }
        let name = definition.name.as_str();
        let declared = &definition.variable_type;
        match provided.get(name) {
            Some(Value::Null) if declared.is_non_null() => checker.errors.push(format!(
                "Variable \"${name}\" of non-null type \"{declared}\" must not be null."
            )),
            Some(value) => {
                checker.path.clear();
                checker.path.push_str(name);
                if let Some(problem) = checker.check(value, declared) {
                    let at = if checker.path == name {
                        String::new()
                    } else {
                        format!(" at \"{}\"", checker.path)
                    };
                    checker.errors.push(format!(
                        "Variable \"${name}\" got invalid value {}{at}; {}",
                        quote(problem.value),
                        problem.message
                    ));
                }
                variables.insert(name.to_owned(), value.clone());
            }
            None => match &definition.default_value {
                // Validation checked the default against the type.
                Some(default) => {
                    variables.insert(name.to_owned(), to_json(default));
                }
                None if declared.is_non_null() => checker.errors.push(format!(
                    "Variable \"${name}\" of required type \"{declared}\" was not provided."
                )),
                None => {}
            },
        }
    }
    if checker.errors.is_empty() {
        return Ok(variables);
    }
    if checker.full() {
        checker.errors.truncate(MAX_ERRORS);
        checker.errors.push(format!(
            "Too many errors processing variables: the first {MAX_ERRORS} are reported."
        ));
    }
    Err(checker.errors)
}

struct Checker<'t> {
    types: &'t InputTypes,
    /// Where the walk is: `input.items[0].quantity`.
    path: String,
    errors: Vec<String>,
}

/// The first thing wrong inside one variable's value.
struct Problem<'v> {
    value: &'v Value,
    message: String,
}

fn problem(value: &Value, message: String) -> Option<Problem<'_>> {
    Some(Problem { value, message })
}

impl<'t> Checker<'t> {
    fn full(&self) -> bool {
        self.errors.len() > MAX_ERRORS
    }

    /// The first problem of `value` as a `expected` (the path is left
    /// pointing at it).
    fn check<'v>(&mut self, value: &'v Value, expected: &TypeNode) -> Option<Problem<'v>> {
        match (expected, value) {
            (TypeNode::NonNull(_), Value::Null) => problem(
                value,
                format!("Expected non-nullable type \"{expected}\" not to be null."),
            ),
            (TypeNode::NonNull(inner), _) => self.check(value, inner),
            (_, Value::Null) => None,
            (TypeNode::List(inner), Value::Array(items)) => {
                let depth = self.path.len();
                for (index, item) in items.iter().enumerate() {
                    let _ = write!(self.path, "[{index}]");
                    if let Some(found) = self.check(item, inner) {
                        return Some(found);
                    }
                    self.path.truncate(depth);
                }
                None
            }
            // A single value where a list is expected is a list of one.
            (TypeNode::List(inner), _) => self.check(value, inner),
            (TypeNode::Named(name), _) => self.check_named(value, name),
        }
    }

    fn check_named<'v>(&mut self, value: &'v Value, name: &str) -> Option<Problem<'v>> {
        let types = self.types;
        match types.types.get(name) {
            Some(InputDefinition::Scalar) => None,
            Some(InputDefinition::Enum(values)) => match value {
                Value::String(text) if values.contains(text.as_str()) => None,
                Value::String(text) => problem(
                    value,
                    format!(
                        "Value \"{}\" does not exist in \"{name}\" enum.",
                        clip(text)
                    ),
                ),
                other => problem(
                    value,
                    format!(
                        "Enum \"{name}\" cannot represent non-string value: {}.",
                        quote(other)
                    ),
                ),
            },
            Some(InputDefinition::Object {
                fields,
                names,
                one_of,
            }) => self.check_object(value, name, fields, names, *one_of),
            None => builtin_scalar(name, value).map(|message| Problem { value, message }),
        }
    }

    fn check_object<'v>(
        &mut self,
        value: &'v Value,
        name: &str,
        fields: &[InputField],
        names: &HashSet<Box<str>, FastHash>,
        one_of: bool,
    ) -> Option<Problem<'v>> {
        let Value::Object(object) = value else {
            return problem(value, format!("Expected type \"{name}\" to be an object."));
        };
        if let Some(unknown) = object.keys().find(|key| !names.contains(key.as_str())) {
            return problem(
                value,
                format!(
                    "Field \"{}\" is not defined by type \"{name}\".",
                    clip(unknown)
                ),
            );
        }
        if one_of {
            let set: Vec<_> = object.iter().filter(|(_, v)| !v.is_null()).collect();
            if object.len() != 1 || set.len() != 1 {
                return problem(
                    value,
                    format!("Exactly one key must be specified for OneOf type \"{name}\"."),
                );
            }
        }
        let depth = self.path.len();
        for field in fields {
            match object.get(&*field.name) {
                None if field.field_type.is_non_null() && !field.has_default => {
                    return problem(
                        value,
                        format!(
                            "Field \"{}\" of required type \"{}\" was not provided.",
                            field.name, field.field_type
                        ),
                    );
                }
                None => {}
                Some(field_value) => {
                    self.path.push('.');
                    self.path.push_str(&field.name);
                    if let Some(found) = self.check(field_value, &field.field_type) {
                        return Some(found);
                    }
                    self.path.truncate(depth);
                }
            }
        }
        None
    }
}

/// Why `value` is not a `name` (a built-in scalar), if it is not; `None`
/// for a name the schema does not define (validation already refused an
/// unknown type, so this is a scalar known only to the planner).
fn builtin_scalar(name: &str, value: &Value) -> Option<String> {
    let ok = match name {
        "Int" => {
            value.as_i64().is_some_and(|i| i32::try_from(i).is_ok())
                || value.as_f64().is_some_and(|f| {
                    f.fract() == 0.0 && f >= f64::from(i32::MIN) && f <= f64::from(i32::MAX)
                })
        }
        "Float" => value.is_number(),
        "String" => value.is_string(),
        "Boolean" => value.is_boolean(),
        // An ID is written as a string or an integer.
        "ID" => value.is_string() || value.is_i64() || value.is_u64(),
        _ => true,
    };
    if ok {
        return None;
    }
    let quoted = quote(value);
    Some(match name {
        "Int" if value.is_number() => {
            format!("Int cannot represent non 32-bit signed integer value: {quoted}")
        }
        "Int" => format!("Int cannot represent non-integer value: {quoted}"),
        "Float" => format!("Float cannot represent non numeric value: {quoted}"),
        "String" => format!("String cannot represent a non string value: {quoted}"),
        "Boolean" => format!("Boolean cannot represent a non boolean value: {quoted}"),
        _ => format!("ID cannot represent value: {quoted}"),
    })
}

/// A default value written in the operation, as JSON.
fn to_json(value: &PlannerValue) -> Value {
    match value {
        PlannerValue::Variable(_) | PlannerValue::Null => Value::Null,
        PlannerValue::Int(i) => Value::from(*i),
        PlannerValue::Float(f) => Value::from(*f),
        PlannerValue::String(s) | PlannerValue::Enum(s) => Value::from(s.as_str()),
        PlannerValue::Boolean(b) => Value::from(*b),
        PlannerValue::List(items) => Value::Array(items.iter().map(to_json).collect()),
        PlannerValue::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
    }
}

/// `value` as JSON, cut to [`QUOTE_BYTES`] (on a character boundary).
fn quote(value: &Value) -> String {
    let text = value.to_string();
    clip(&text).to_owned() + if text.len() > QUOTE_BYTES { "…" } else { "" }
}

fn clip(text: &str) -> &str {
    if text.len() <= QUOTE_BYTES {
        return text;
    }
    let mut end = QUOTE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests;
