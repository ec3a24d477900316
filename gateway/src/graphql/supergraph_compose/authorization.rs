//! The authorization directives through composition: `@authenticated`
//! and `@requiresScopes(scopes: [[...]])` on a subgraph's fields, object
//! types, interfaces, scalars and enums are carried into the supergraph,
//! which then links `authenticated/v0.1` and `requiresScopes/v0.1` (for
//! `SECURITY`) and defines both directives, as Apollo's composition does.
//!
//! Merging follows Apollo's rules: an element is `@authenticated` when
//! any subgraph marks it; the scopes of several subgraphs are all
//! required, so their OR-of-ANDs lists are combined as a conjunction
//! (`[[a], [b]]` and `[[c]]` give `[[a, c], [b, c]]`), duplicates removed.

use std::fmt::Write as _;

use graphql_tools::parser::schema as ast;

/// The `@link`s a supergraph that uses the directives declares.
pub(crate) const AUTHENTICATED_LINK: &str =
    "@link(url: \"https://specs.apollo.dev/authenticated/v0.1\", for: SECURITY)";
pub(crate) const REQUIRES_SCOPES_LINK: &str =
    "@link(url: \"https://specs.apollo.dev/requiresScopes/v0.1\", for: SECURITY)";

/// Their definitions, after the fixed preamble.
const AUTHENTICATED_DEFINITION: &str =
    "\ndirective @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM\n";
const REQUIRES_SCOPES_DEFINITION: &str = "\ndirective @requiresScopes(scopes: [[requiresScopes__Scope!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM\n\nscalar requiresScopes__Scope\n";

/// The authorization directives of one element in one subgraph, or merged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AuthDirectives {
    pub authenticated: bool,
    /// Alternatives (OR), each a set of scopes all required (AND);
    /// `None` without `@requiresScopes`.
    pub scopes: Option<Vec<Vec<String>>>,
}

impl AuthDirectives {
    /// Reads `@authenticated` and `@requiresScopes` (also in their
    /// `@federation__` spelling).
    pub(crate) fn read(directives: &[ast::Directive<'static, String>]) -> Self {
        let is = |d: &ast::Directive<'static, String>, name: &str| {
            d.name == name || d.name.strip_prefix("federation__") == Some(name)
        };
        let scopes = directives
            .iter()
            .filter(|d| is(d, "requiresScopes"))
            .filter_map(|d| d.arguments.iter().find(|(n, _)| n == "scopes"))
            .map(|(_, value)| scope_lists(value))
            .reduce(|all, next| conjunction(&all, &next));
        AuthDirectives {
            authenticated: directives.iter().any(|d| is(d, "authenticated")),
            scopes,
        }
    }

    /// The supergraph's directives for an element several subgraphs define.
    pub(crate) fn merge<'a>(all: impl IntoIterator<Item = &'a AuthDirectives>) -> Self {
        let mut merged = AuthDirectives::default();
        for one in all {
            merged.authenticated |= one.authenticated;
            merged.scopes = match (merged.scopes.take(), &one.scopes) {
                (None, next) => next.clone(),
                (Some(all), None) => Some(all),
                (Some(all), Some(next)) => Some(conjunction(&all, next)),
            };
        }
        merged
    }

    /// Appends ` @authenticated` / ` @requiresScopes(...)` to a definition.
    pub(crate) fn write(&self, out: &mut String) {
        if self.authenticated {
            out.push_str(" @authenticated");
        }
        if let Some(scopes) = &self.scopes {
            let groups: Vec<String> = scopes
                .iter()
                .map(|group| {
                    let quoted: Vec<String> = group.iter().map(|s| format!("{s:?}")).collect();
                    format!("[{}]", quoted.join(", "))
                })
                .collect();
            let _ = write!(out, " @requiresScopes(scopes: [{}])", groups.join(", "));
        }
    }
}

/// Which of the two specs a supergraph uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct AuthUsage {
    pub authenticated: bool,
    pub requires_scopes: bool,
}

impl AuthUsage {
    pub(crate) fn add(&mut self, directives: &AuthDirectives) {
        self.authenticated |= directives.authenticated;
        self.requires_scopes |= directives.scopes.is_some();
    }

    /// The `@link`s of the schema definition.
    pub(crate) fn links(self) -> impl Iterator<Item = &'static str> {
        [
            (self.authenticated, AUTHENTICATED_LINK),
            (self.requires_scopes, REQUIRES_SCOPES_LINK),
        ]
        .into_iter()
        .filter_map(|(used, link)| used.then_some(link))
    }

    /// The directive (and scalar) definitions.
    pub(crate) fn definitions(self) -> String {
        let mut out = String::new();
        if self.authenticated {
            out.push_str(AUTHENTICATED_DEFINITION);
        }
        if self.requires_scopes {
            out.push_str(REQUIRES_SCOPES_DEFINITION);
        }
        out
    }
}

/// `[["a", "b"], ["c"]]` as lists; anything else in it is ignored.
fn scope_lists(value: &ast::Value<'static, String>) -> Vec<Vec<String>> {
    let ast::Value::List(groups) = value else {
        return Vec::new();
    };
    groups
        .iter()
        .filter_map(|group| match group {
            ast::Value::List(scopes) => Some(
                scopes
                    .iter()
                    .filter_map(|s| match s {
                        ast::Value::String(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// Both requirements at once: every pair of alternatives, joined.
fn conjunction(left: &[Vec<String>], right: &[Vec<String>]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for a in left {
        for b in right {
            let mut group = a.clone();
            for scope in b {
                if !group.contains(scope) {
                    group.push(scope.clone());
                }
            }
            if !out.iter().any(|existing| same_set(existing, &group)) {
                out.push(group);
            }
        }
    }
    out
}

fn same_set(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().all(|s| b.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(groups: &[&[&str]]) -> Option<Vec<Vec<String>>> {
        Some(
            groups
                .iter()
                .map(|g| g.iter().map(|s| (*s).to_owned()).collect())
                .collect(),
        )
    }

    #[test]
    fn scopes_of_several_subgraphs_are_all_required() {
        let a = AuthDirectives {
            authenticated: false,
            scopes: scopes(&[&["a"], &["b"]]),
        };
        let c = AuthDirectives {
            authenticated: true,
            scopes: scopes(&[&["c"], &["a"]]),
        };
        let merged = AuthDirectives::merge([&a, &c, &AuthDirectives::default()]);
        assert!(merged.authenticated);
        assert_eq!(
            merged.scopes,
            scopes(&[&["a", "c"], &["a"], &["b", "c"], &["b", "a"]])
        );
        let mut out = String::new();
        merged.write(&mut out);
        assert_eq!(
            out,
            r#" @authenticated @requiresScopes(scopes: [["a", "c"], ["a"], ["b", "c"], ["b", "a"]])"#
        );
    }

    #[test]
    fn directives_are_read_in_both_spellings() {
        let sdl = r#"type T { a: Int @federation__authenticated @requiresScopes(scopes: [["x", "y"], ["z"]]) }"#;
        let document = graphql_tools::parser::parse_schema::<String>(sdl)
            .unwrap()
            .into_static();
        let ast::Definition::TypeDefinition(ast::TypeDefinition::Object(object)) =
            &document.definitions[0]
        else {
            panic!("an object type");
        };
        let read = AuthDirectives::read(&object.fields[0].directives);
        assert!(read.authenticated);
        assert_eq!(read.scopes, scopes(&[&["x", "y"], &["z"]]));
    }
}
