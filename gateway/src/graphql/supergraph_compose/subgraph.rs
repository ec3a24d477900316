//! Reading one subgraph's SDL (as `_service { sdl }` returns it) into a
//! plain model of its types, keys and federation directives, which the
//! composer merges. Only the Federation v2 subset our gateway composes is
//! understood: `@key`, `@external`, `@requires`, `@provides`,
//! `@shareable`, `@override`, `@inaccessible`, and the authorization
//! directives `@authenticated` and `@requiresScopes` (see `authorization`).

use graphql_tools::parser::schema::{self as ast, Definition, TypeDefinition, TypeExtension};

use super::SupergraphComposeError;
use super::authorization::AuthDirectives;

type Directives = [ast::Directive<'static, String>];

/// One subgraph: its name, URL and SDL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubgraphSdl {
    pub name: String,
    pub url: String,
    pub sdl: String,
}

/// What kind of named type a definition is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TypeKind {
    Object,
    Interface,
    Union,
    Enum,
    InputObject,
    Scalar,
}

impl TypeKind {
    pub(crate) fn keyword(self) -> &'static str {
        match self {
            TypeKind::Object => "type",
            TypeKind::Interface => "interface",
            TypeKind::Union => "union",
            TypeKind::Enum => "enum",
            TypeKind::InputObject => "input",
            TypeKind::Scalar => "scalar",
        }
    }
}

/// An `@key` of an entity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Key {
    pub fields: String,
    pub resolvable: bool,
}

/// One field (or input field) as one subgraph defines it.
#[derive(Clone, Debug, Default)]
pub(crate) struct FieldModel {
    pub name: String,
    pub description: Option<String>,
    /// Printed arguments, e.g. `first: Int! = 10`.
    pub arguments: Vec<String>,
    pub ty: String,
    pub external: bool,
    pub requires: Option<String>,
    pub provides: Option<String>,
    pub override_from: Option<String>,
    pub inaccessible: bool,
    pub auth: AuthDirectives,
}

/// One enum value as one subgraph defines it.
#[derive(Clone, Debug)]
pub(crate) struct EnumValueModel {
    pub name: String,
    pub description: Option<String>,
    pub inaccessible: bool,
}

/// One named type as one subgraph defines it.
#[derive(Clone, Debug)]
pub(crate) struct TypeModel {
    pub name: String,
    pub kind: TypeKind,
    pub description: Option<String>,
    pub keys: Vec<Key>,
    pub implements: Vec<String>,
    pub fields: Vec<FieldModel>,
    pub members: Vec<String>,
    pub values: Vec<EnumValueModel>,
    pub inaccessible: bool,
    pub auth: AuthDirectives,
    pub extension: bool,
}

/// A parsed subgraph.
#[derive(Clone, Debug)]
pub(crate) struct SubgraphModel {
    pub name: String,
    pub url: String,
    pub types: Vec<TypeModel>,
}

/// Parses the SDL of `subgraph`.
pub(crate) fn read_subgraph(
    subgraph: &SubgraphSdl,
) -> Result<SubgraphModel, SupergraphComposeError> {
    let sdl = strip_schema_extensions(&subgraph.sdl);
    let document = graphql_tools::parser::parse_schema::<String>(&sdl)
        .map_err(|error| SupergraphComposeError::Parse {
            subgraph: subgraph.name.clone(),
            message: error.to_string(),
        })?
        .into_static();
    let types = document
        .definitions
        .iter()
        .filter_map(read_definition)
        .filter(|t| !is_federation_internal(&t.name))
        .collect();
    Ok(SubgraphModel {
        name: subgraph.name.clone(),
        url: subgraph.url.clone(),
        types,
    })
}

/// `extend schema @link(...)` is not in the parser's grammar; the link
/// imports carry nothing the composer needs, so the blocks are dropped.
fn strip_schema_extensions(sdl: &str) -> String {
    let mut out = String::with_capacity(sdl.len());
    let mut rest = sdl;
    while let Some(start) = rest.find("extend schema") {
        out.push_str(&rest[..start]);
        let after = &rest[start + "extend schema".len()..];
        let end = schema_extension_end(after);
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The byte length of the directives after `extend schema`: up to the end
/// of the last directive's parenthesised arguments.
fn schema_extension_end(after: &str) -> usize {
    let mut depth = 0usize;
    let mut in_string = false;
    for (index, ch) in after.char_indices() {
        match ch {
            '"' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => {
                depth = depth.saturating_sub(1);
                let tail = after[index + 1..].trim_start();
                if depth == 0 && !tail.starts_with('@') {
                    return index + 1;
                }
            }
            _ => {}
        }
    }
    after.len()
}

fn is_federation_internal(name: &str) -> bool {
    matches!(
        name,
        "_Any" | "_Service" | "_Entity" | "FieldSet" | "_FieldSet"
    ) || name.starts_with("link__")
        || name.starts_with("federation__")
}

fn read_definition(definition: &Definition<'static, String>) -> Option<TypeModel> {
    match definition {
        Definition::TypeDefinition(def) => Some(read_type(def)),
        Definition::TypeExtension(TypeExtension::Object(ext)) => {
            let mut model = object_like(TypeKind::Object, &ext.name, None, &ext.directives);
            model.implements = ext.implements_interfaces.clone();
            model.fields = ext.fields.iter().map(read_field).collect();
            model.extension = true;
            Some(model)
        }
        _ => None,
    }
}

fn read_type(def: &TypeDefinition<'static, String>) -> TypeModel {
    let (kind, description, directives) = match def {
        TypeDefinition::Object(t) => (TypeKind::Object, &t.description, &t.directives),
        TypeDefinition::Interface(t) => (TypeKind::Interface, &t.description, &t.directives),
        TypeDefinition::Union(t) => (TypeKind::Union, &t.description, &t.directives),
        TypeDefinition::Enum(t) => (TypeKind::Enum, &t.description, &t.directives),
        TypeDefinition::InputObject(t) => (TypeKind::InputObject, &t.description, &t.directives),
        TypeDefinition::Scalar(t) => (TypeKind::Scalar, &t.description, &t.directives),
    };
    let mut model = object_like(kind, def.name(), description.clone(), directives);
    match def {
        TypeDefinition::Object(t) => {
            model.implements = t.implements_interfaces.clone();
            model.fields = t.fields.iter().map(read_field).collect();
        }
        TypeDefinition::Interface(t) => {
            model.implements = t.implements_interfaces.clone();
            model.fields = t.fields.iter().map(read_field).collect();
        }
        TypeDefinition::Union(t) => model.members = t.types.clone(),
        TypeDefinition::Enum(t) => {
            let values = t.values.iter().map(|v| EnumValueModel {
                name: v.name.clone(),
                description: v.description.clone(),
                inaccessible: has_directive(&v.directives, "inaccessible"),
            });
            model.values = values.collect();
        }
        TypeDefinition::InputObject(t) => {
            model.fields = t.fields.iter().map(read_input_field).collect();
        }
        TypeDefinition::Scalar(_) => {}
    }
    model
}

fn object_like(
    kind: TypeKind,
    name: &str,
    description: Option<String>,
    directives: &Directives,
) -> TypeModel {
    let keys = directives
        .iter()
        .filter(|d| directive_is(d, "key"))
        .filter_map(|d| {
            let fields = string_argument(d, "fields")?;
            let resolvable = !matches!(argument(d, "resolvable"), Some(ast::Value::Boolean(false)));
            Some(Key { fields, resolvable })
        })
        .collect();
    TypeModel {
        name: name.to_owned(),
        kind,
        description,
        keys,
        implements: Vec::new(),
        fields: Vec::new(),
        members: Vec::new(),
        values: Vec::new(),
        inaccessible: has_directive(directives, "inaccessible"),
        auth: AuthDirectives::read(directives),
        extension: false,
    }
}

fn read_field(field: &ast::Field<'static, String>) -> FieldModel {
    let directives = &field.directives;
    let find = |name: &str, arg: &str| {
        directives
            .iter()
            .find(|d| directive_is(d, name))
            .and_then(|d| string_argument(d, arg))
    };
    FieldModel {
        name: field.name.clone(),
        description: field.description.clone(),
        arguments: field.arguments.iter().map(print_input_value).collect(),
        ty: field.field_type.to_string(),
        external: has_directive(directives, "external"),
        requires: find("requires", "fields"),
        provides: find("provides", "fields"),
        override_from: find("override", "from"),
        inaccessible: has_directive(directives, "inaccessible"),
        auth: AuthDirectives::read(directives),
    }
}

fn read_input_field(value: &ast::InputValue<'static, String>) -> FieldModel {
    let printed = print_input_value(value);
    let ty = printed
        .split_once(": ")
        .map_or(String::new(), |(_, ty)| ty.to_owned());
    FieldModel {
        name: value.name.clone(),
        description: value.description.clone(),
        ty,
        inaccessible: has_directive(&value.directives, "inaccessible"),
        ..FieldModel::default()
    }
}

fn print_input_value(value: &ast::InputValue<'static, String>) -> String {
    let mut plain = value.clone();
    plain.description = None;
    plain.directives.clear();
    plain.to_string()
}

/// `@key` or its prefixed form `@federation__key`.
fn directive_is(directive: &ast::Directive<'static, String>, name: &str) -> bool {
    directive.name == name || directive.name.strip_prefix("federation__") == Some(name)
}

fn has_directive(directives: &Directives, name: &str) -> bool {
    directives.iter().any(|d| directive_is(d, name))
}

fn argument<'d>(
    directive: &'d ast::Directive<'static, String>,
    name: &str,
) -> Option<&'d ast::Value<'static, String>> {
    directive
        .arguments
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

fn string_argument(directive: &ast::Directive<'static, String>, name: &str) -> Option<String> {
    match argument(directive, name)? {
        ast::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_extension_with_link_is_removed() {
        let sdl =
            "type Query { a: Int }\nextend schema @link(\n url: \"x\",\n import: [\"@key\"]\n)\n";
        assert_eq!(strip_schema_extensions(sdl).trim(), "type Query { a: Int }");
    }
}
