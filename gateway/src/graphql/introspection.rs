//! Introspection answered by the gateway itself, from the public schema:
//! the planner's consumer schema, which has `@inaccessible` elements
//! pruned and the federation internals (`_entities`, `_service`,
//! `join__*`, `link__*`) stripped. That schema is mirrored into an
//! async-graphql dynamic schema in introspection-only mode, which
//! executes `__schema` / `__type` queries (fragments, variables and
//! `__typename` included) exactly as the specification describes.

use async_graphql::dynamic::{
    Enum, EnumItem, Field, FieldFuture, InputObject, InputValue, Interface, InterfaceField, Object,
    Scalar, Schema, Subscription, SubscriptionField, SubscriptionFieldFuture, TypeRef, Union,
};
use async_graphql::{Name, Value as ConstValue};
use graphql_tools::parser::schema::{Definition, Document, Type, TypeDefinition, Value};
use serde_json::Value as Json;

use super::error::{GraphqlError, RequestError};
use super::prepare::PreparedOperation;
use super::supergraph::Supergraph;

const BUILT_IN_SCALARS: [&str; 5] = ["String", "Int", "Float", "Boolean", "ID"];

/// Mirrors the public schema `document` as an introspection-only schema.
pub fn build_schema(
    document: &Document<'static, String>,
    roots: [Option<&str>; 3],
) -> Result<Schema, String> {
    let [query, mutation, subscription] = roots;
    let mut builder =
        Schema::build(query.unwrap_or("Query"), mutation, subscription).introspection_only();
    for definition in &document.definitions {
        let Definition::TypeDefinition(ty) = definition else {
            continue;
        };
        if ty.name().starts_with("__") {
            continue;
        }
        builder = match ty {
            TypeDefinition::Object(o) if Some(o.name.as_str()) == subscription => {
                builder.register(subscription_type(o))
            }
            TypeDefinition::Object(o) => builder.register(object_type(o)),
            TypeDefinition::Interface(i) => builder.register(interface_type(i)),
            TypeDefinition::Union(u) => {
                let union = u
                    .types
                    .iter()
                    .fold(Union::new(&u.name), |un, t| un.possible_type(t));
                builder.register(describe(
                    union,
                    u.description.as_deref(),
                    Union::description,
                ))
            }
            TypeDefinition::Enum(e) => builder.register(enum_type(e)),
            TypeDefinition::InputObject(i) => builder.register(input_type(i)),
            TypeDefinition::Scalar(s) if BUILT_IN_SCALARS.contains(&s.name.as_str()) => builder,
            TypeDefinition::Scalar(s) => builder.register(describe(
                Scalar::new(&s.name),
                s.description.as_deref(),
                Scalar::description,
            )),
        };
    }
    builder.finish().map_err(|e| e.to_string())
}

fn describe<T>(item: T, description: Option<&str>, set: fn(T, String) -> T) -> T {
    match description {
        Some(text) => set(item, text.to_owned()),
        None => item,
    }
}

fn deprecation(
    directives: &[graphql_tools::parser::schema::Directive<'static, String>],
) -> Option<Option<String>> {
    let deprecated = directives.iter().find(|d| d.name == "deprecated")?;
    let reason = deprecated
        .arguments
        .iter()
        .find(|(n, _)| n == "reason")
        .and_then(|(_, v)| match v {
            Value::String(s) => Some(s.clone()),
            _ => None,
        });
    Some(reason)
}

fn object_type(o: &graphql_tools::parser::schema::ObjectType<'static, String>) -> Object {
    let mut object = describe(
        Object::new(&o.name),
        o.description.as_deref(),
        Object::description,
    );
    for interface in &o.implements_interfaces {
        object = object.implement(interface);
    }
    for f in o.fields.iter().filter(|f| !f.name.starts_with("__")) {
        let mut field = Field::new(&f.name, type_ref(&f.field_type), |_| {
            FieldFuture::new(async { Ok(None::<async_graphql::dynamic::FieldValue>) })
        });
        field = describe(field, f.description.as_deref(), Field::description);
        if let Some(reason) = deprecation(&f.directives) {
            field = field.deprecation(reason.as_deref());
        }
        for argument in &f.arguments {
            field = field.argument(input_value(argument));
        }
        object = object.field(field);
    }
    object
}

fn subscription_type(
    o: &graphql_tools::parser::schema::ObjectType<'static, String>,
) -> Subscription {
    let mut subscription = describe(
        Subscription::new(&o.name),
        o.description.as_deref(),
        Subscription::description,
    );
    for f in &o.fields {
        let mut field = SubscriptionField::new(&f.name, type_ref(&f.field_type), |_| {
            SubscriptionFieldFuture::new(async {
                Ok(futures::stream::empty::<async_graphql::Result<ConstValue>>())
            })
        });
        field = describe(
            field,
            f.description.as_deref(),
            SubscriptionField::description,
        );
        for argument in &f.arguments {
            field = field.argument(input_value(argument));
        }
        subscription = subscription.field(field);
    }
    subscription
}

fn interface_type(i: &graphql_tools::parser::schema::InterfaceType<'static, String>) -> Interface {
    let mut interface = describe(
        Interface::new(&i.name),
        i.description.as_deref(),
        Interface::description,
    );
    for parent in &i.implements_interfaces {
        interface = interface.implement(parent);
    }
    for f in &i.fields {
        let mut field = describe(
            InterfaceField::new(&f.name, type_ref(&f.field_type)),
            f.description.as_deref(),
            InterfaceField::description,
        );
        for argument in &f.arguments {
            field = field.argument(input_value(argument));
        }
        interface = interface.field(field);
    }
    interface
}

fn enum_type(e: &graphql_tools::parser::schema::EnumType<'static, String>) -> Enum {
    let mut result = describe(
        Enum::new(&e.name),
        e.description.as_deref(),
        Enum::description,
    );
    for value in &e.values {
        let mut item = describe(
            EnumItem::new(&value.name),
            value.description.as_deref(),
            EnumItem::description,
        );
        if let Some(reason) = deprecation(&value.directives) {
            item = item.deprecation(reason.as_deref());
        }
        result = result.item(item);
    }
    result
}

fn input_type(i: &graphql_tools::parser::schema::InputObjectType<'static, String>) -> InputObject {
    let input = describe(
        InputObject::new(&i.name),
        i.description.as_deref(),
        InputObject::description,
    );
    i.fields
        .iter()
        .fold(input, |input, f| input.field(input_value(f)))
}

fn input_value(v: &graphql_tools::parser::schema::InputValue<'static, String>) -> InputValue {
    let mut value = describe(
        InputValue::new(&v.name, type_ref(&v.value_type)),
        v.description.as_deref(),
        InputValue::description,
    );
    if let Some(default) = &v.default_value {
        value = value.default_value(const_value(default));
    }
    value
}

fn type_ref(ty: &Type<'static, String>) -> TypeRef {
    match ty {
        Type::NamedType(name) => TypeRef::Named(name.clone().into()),
        Type::ListType(inner) => TypeRef::List(Box::new(type_ref(inner))),
        Type::NonNullType(inner) => TypeRef::NonNull(Box::new(type_ref(inner))),
    }
}

fn const_value(value: &Value<'static, String>) -> ConstValue {
    match value {
        Value::Variable(_) | Value::Null => ConstValue::Null,
        Value::Int(i) => i
            .as_i64()
            .map_or(ConstValue::Null, |i| ConstValue::Number(i.into())),
        Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(ConstValue::Null, ConstValue::Number)
        }
        Value::String(s) => ConstValue::String(s.clone()),
        Value::Boolean(b) => ConstValue::Boolean(*b),
        Value::Enum(e) => ConstValue::Enum(Name::new(e)),
        Value::List(items) => ConstValue::List(items.iter().map(const_value).collect()),
        Value::Object(fields) => ConstValue::Object(
            fields
                .iter()
                .map(|(k, v)| (Name::new(k), const_value(v)))
                .collect(),
        ),
    }
}

/// Answers an introspection-only operation.
pub async fn execute(
    supergraph: &Supergraph,
    prepared: &PreparedOperation,
) -> Result<(Json, Vec<GraphqlError>), RequestError> {
    let schema = supergraph.introspection.as_ref().map_err(|e| {
        RequestError::Internal(format!(
            "introspection is unavailable for this supergraph: {e}"
        ))
    })?;
    let query = prepared.document.to_string();
    let variables = async_graphql::Variables::from_json(Json::Object(prepared.variables.clone()));
    let mut request = async_graphql::Request::new(query).variables(variables);
    if let Some(name) = &prepared.normalized.operation_name {
        request = request.operation_name(name.clone());
    }
    let response = schema.execute(request).await;
    let errors = response
        .errors
        .into_iter()
        .map(|e| GraphqlError::new("INTROSPECTION_FAILED", e.message))
        .collect();
    let data = response.data.into_json().unwrap_or(Json::Null);
    Ok((data, errors))
}
