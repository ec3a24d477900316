//! Writing the supergraph SDL: the fixed join v0.3 / link v1.0 preamble,
//! the `join__Graph` enum, then every merged type with its join
//! directives, in name order so the output is deterministic.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::authorization::{AuthDirectives, AuthUsage};
use super::subgraph::{FieldModel, SubgraphModel, TypeKind};
use super::{MergedType, graph_enum_name};

/// The directive, scalar and enum definitions every supergraph declares
/// (join v0.3, link v1.0, inaccessible v0.2).
pub const PREAMBLE: &str = r#"directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION

directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE

directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION

directive @join__graph(name: String!, url: String!) on ENUM_VALUE

directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT | INTERFACE

directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR

directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION

directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA

scalar join__FieldSet

scalar link__Import

enum link__Purpose {
  """
  `SECURITY` features provide metadata necessary to securely resolve fields.
  """
  SECURITY

  """
  `EXECUTION` features provide metadata necessary for operation execution.
  """
  EXECUTION
}
"#;

/// The whole supergraph SDL.
pub(crate) fn supergraph(
    models: &[SubgraphModel],
    merged: &BTreeMap<&str, MergedType<'_>>,
) -> String {
    let graphs: Vec<String> = models.iter().map(|m| graph_enum_name(&m.name)).collect();
    let usage = auth_usage(merged);
    let mut out = schema_definition(merged, usage);
    out.push_str(PREAMBLE);
    out.push_str(&usage.definitions());
    out.push_str("\nenum join__Graph {\n");
    for (model, graph) in models.iter().zip(&graphs) {
        let _ = writeln!(
            out,
            "  {graph} @join__graph(name: {}, url: {})",
            quote(&model.name),
            quote(&model.url)
        );
    }
    out.push_str("}\n");
    for ty in merged.values() {
        out.push('\n');
        write_type(&mut out, ty, &graphs);
    }
    out
}

/// Which authorization specs the merged types use.
fn auth_usage(merged: &BTreeMap<&str, MergedType<'_>>) -> AuthUsage {
    let mut usage = AuthUsage::default();
    for ty in merged.values() {
        for (_, definition) in &ty.definitions {
            if type_takes_auth(ty.kind) {
                usage.add(&definition.auth);
            }
            definition.fields.iter().for_each(|f| usage.add(&f.auth));
        }
    }
    usage
}

/// `@authenticated` / `@requiresScopes` apply to these kinds of type (and
/// to the fields of objects and interfaces).
fn type_takes_auth(kind: TypeKind) -> bool {
    matches!(
        kind,
        TypeKind::Object | TypeKind::Interface | TypeKind::Scalar | TypeKind::Enum
    )
}

fn schema_definition(merged: &BTreeMap<&str, MergedType<'_>>, usage: AuthUsage) -> String {
    let mut out = String::from(
        "schema\n  @link(url: \"https://specs.apollo.dev/link/v1.0\")\n  @link(url: \"https://specs.apollo.dev/join/v0.3\", for: EXECUTION)\n  @link(url: \"https://specs.apollo.dev/inaccessible/v0.2\", for: SECURITY)\n",
    );
    for link in usage.links() {
        let _ = writeln!(out, "  {link}");
    }
    out.push_str("{\n");
    for (field, ty) in [
        ("query", "Query"),
        ("mutation", "Mutation"),
        ("subscription", "Subscription"),
    ] {
        if merged.contains_key(ty) {
            let _ = writeln!(out, "  {field}: {ty}");
        }
    }
    out.push_str("}\n\n");
    out
}

fn write_type(out: &mut String, ty: &MergedType<'_>, graphs: &[String]) {
    let first = ty.definitions[0].1;
    write_description(
        out,
        ty.definitions
            .iter()
            .find_map(|(_, d)| d.description.as_deref()),
        "",
    );
    let _ = write!(out, "{} {}", ty.kind.keyword(), ty.name);
    let implements = union_of(ty.definitions.iter().flat_map(|(_, d)| &d.implements));
    if !implements.is_empty() {
        let _ = write!(out, " implements {}", implements.join(" & "));
    }
    for (graph, def) in &ty.definitions {
        for interface in &def.implements {
            let _ = write!(
                out,
                "\n  @join__implements(graph: {}, interface: {})",
                graphs[*graph],
                quote(interface)
            );
        }
    }
    write_join_types(out, ty, graphs);
    if ty.definitions.iter().any(|(_, d)| d.inaccessible) {
        out.push_str("\n  @inaccessible");
    }
    if type_takes_auth(ty.kind) {
        let auth = AuthDirectives::merge(ty.definitions.iter().map(|(_, d)| &d.auth));
        if auth != AuthDirectives::default() {
            out.push_str("\n ");
            auth.write(out);
        }
    }
    match first.kind {
        TypeKind::Union => write_union_members(out, ty, graphs),
        TypeKind::Enum => write_enum_values(out, ty, graphs),
        TypeKind::Scalar => out.push('\n'),
        _ => write_fields(out, ty, graphs),
    }
}

fn write_join_types(out: &mut String, ty: &MergedType<'_>, graphs: &[String]) {
    for (graph, def) in &ty.definitions {
        let extension = if def.extension {
            ", extension: true"
        } else {
            ""
        };
        if def.keys.is_empty() {
            let _ = write!(out, "\n  @join__type(graph: {}{extension})", graphs[*graph]);
        }
        for key in &def.keys {
            let resolvable = if key.resolvable {
                ""
            } else {
                ", resolvable: false"
            };
            let _ = write!(
                out,
                "\n  @join__type(graph: {}, key: {}{extension}{resolvable})",
                graphs[*graph],
                quote(&key.fields)
            );
        }
    }
}

fn write_union_members(out: &mut String, ty: &MergedType<'_>, graphs: &[String]) {
    for (graph, def) in &ty.definitions {
        for member in &def.members {
            let _ = write!(
                out,
                "\n  @join__unionMember(graph: {}, member: {})",
                graphs[*graph],
                quote(member)
            );
        }
    }
    let members = union_of(ty.definitions.iter().flat_map(|(_, d)| &d.members));
    let _ = writeln!(out, "\n  = {}", members.join(" | "));
}

fn write_enum_values(out: &mut String, ty: &MergedType<'_>, graphs: &[String]) {
    out.push_str("\n{\n");
    let values = union_of(
        ty.definitions
            .iter()
            .flat_map(|(_, d)| d.values.iter().map(|v| &v.name)),
    );
    for value in values {
        let definitions = || {
            ty.definitions
                .iter()
                .flat_map(|(_, d)| &d.values)
                .filter(|v| v.name == *value)
        };
        let description = definitions().find_map(|v| v.description.as_deref());
        write_description(out, description, "  ");
        let _ = write!(out, "  {value}");
        for (graph, def) in &ty.definitions {
            if def.values.iter().any(|v| v.name == *value) {
                let _ = write!(out, " @join__enumValue(graph: {})", graphs[*graph]);
            }
        }
        // Hidden in one subgraph is hidden in the supergraph (as with fields).
        if definitions().any(|v| v.inaccessible) {
            out.push_str(" @inaccessible");
        }
        out.push('\n');
    }
    out.push_str("}\n");
}

/// A field with every subgraph definition that is not overridden.
struct FieldSources<'a> {
    name: &'a str,
    sources: Vec<(usize, &'a FieldModel)>,
}

fn write_fields(out: &mut String, ty: &MergedType<'_>, graphs: &[String]) {
    out.push_str("\n{\n");
    for field in field_sources(ty, graphs) {
        let (_, first) = field.sources[0];
        let canonical = field
            .sources
            .iter()
            .find(|(_, f)| !f.external)
            .unwrap_or(&field.sources[0])
            .1;
        write_description(
            out,
            field
                .sources
                .iter()
                .find_map(|(_, f)| f.description.as_deref()),
            "  ",
        );
        let arguments = if canonical.arguments.is_empty() {
            String::new()
        } else {
            format!("({})", canonical.arguments.join(", "))
        };
        let _ = write!(out, "  {}{arguments}: {}", field.name, canonical.ty);
        let plain = field.sources.len() == ty.definitions.len()
            && field
                .sources
                .iter()
                .all(|(_, f)| is_plain(f) && f.ty == first.ty);
        if !plain && ty.kind != TypeKind::InputObject {
            for (graph, source) in &field.sources {
                write_join_field(out, &graphs[*graph], source, source.ty != canonical.ty);
            }
        }
        if field.sources.iter().any(|(_, f)| f.inaccessible) {
            out.push_str(" @inaccessible");
        }
        if ty.kind != TypeKind::InputObject {
            AuthDirectives::merge(field.sources.iter().map(|(_, f)| &f.auth)).write(out);
        }
        out.push('\n');
    }
    out.push_str("}\n");
}

fn field_sources<'a>(ty: &MergedType<'a>, graphs: &[String]) -> Vec<FieldSources<'a>> {
    let names = union_of(
        ty.definitions
            .iter()
            .flat_map(|(_, d)| d.fields.iter().map(|f| &f.name)),
    );
    names
        .into_iter()
        .map(|name| {
            let all: Vec<(usize, &FieldModel)> = ty
                .definitions
                .iter()
                .filter_map(|(graph, def)| {
                    def.fields
                        .iter()
                        .find(|f| f.name == name)
                        .map(|f| (*graph, f))
                })
                .collect();
            let overridden: Vec<String> = all
                .iter()
                .filter_map(|(_, f)| f.override_from.as_deref().map(graph_enum_name))
                .collect();
            let kept: Vec<_> = all
                .iter()
                .copied()
                .filter(|(graph, _)| !overridden.contains(&graphs[*graph]))
                .collect();
            FieldSources {
                name,
                sources: if kept.is_empty() { all } else { kept },
            }
        })
        .collect()
}

fn is_plain(field: &FieldModel) -> bool {
    !field.external
        && field.requires.is_none()
        && field.provides.is_none()
        && field.override_from.is_none()
}

fn write_join_field(out: &mut String, graph: &str, field: &FieldModel, with_type: bool) {
    let _ = write!(out, " @join__field(graph: {graph}");
    if let Some(requires) = &field.requires {
        let _ = write!(out, ", requires: {}", quote(requires));
    }
    if let Some(provides) = &field.provides {
        let _ = write!(out, ", provides: {}", quote(provides));
    }
    if with_type {
        let _ = write!(out, ", type: {}", quote(&field.ty));
    }
    if field.external {
        out.push_str(", external: true");
    }
    if let Some(from) = &field.override_from {
        let _ = write!(out, ", override: {}", quote(from));
    }
    out.push(')');
}

/// The distinct values in first-seen order.
fn union_of<'a>(items: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for item in items {
        if !seen.contains(&item.as_str()) {
            seen.push(item);
        }
    }
    seen
}

fn write_description(out: &mut String, description: Option<&str>, indent: &str) {
    if let Some(text) = description {
        let escaped = text.replace("\"\"\"", "\\\"\"\"");
        let _ = writeln!(
            out,
            "{indent}\"\"\"\n{indent}{}\n{indent}\"\"\"",
            escaped.replace('\n', &format!("\n{indent}"))
        );
    }
}

/// A GraphQL string literal.
fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
}
