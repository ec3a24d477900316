//! Protection limits checked on the parsed operation before planning:
//! selection depth, aliases, root fields (tokens are capped by the parser
//! and body size by the request reader). Fragments are expanded while
//! counting, and a fragment cycle cannot loop (each spread is followed
//! once per path).

use graphql_tools::parser::query::{
    Definition, Document, OperationDefinition, Selection, SelectionSet,
};

use super::error::RequestError;

/// The limits of one GraphQL endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_depth: usize,
    pub max_aliases: usize,
    pub max_root_fields: usize,
    pub max_tokens: usize,
    pub max_body_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 15,
            max_aliases: 15,
            max_root_fields: 20,
            max_tokens: 15_000,
            max_body_bytes: 2 * 1024 * 1024,
        }
    }
}

type Doc = Document<'static, String>;

/// Checks `operation` of `document` against `limits`.
pub fn check(
    document: &Doc,
    operation: &OperationDefinition<'static, String>,
    limits: &Limits,
) -> Result<(), RequestError> {
    let root = selection_set(operation);
    let root_fields = count_fields(document, root, &mut Vec::new());
    if root_fields > limits.max_root_fields {
        return Err(exceeded(
            "MAX_ROOT_FIELDS_EXCEEDED",
            "root fields",
            root_fields,
            limits.max_root_fields,
        ));
    }
    let depth = depth(document, root, &mut Vec::new());
    if depth > limits.max_depth {
        return Err(exceeded(
            "MAX_DEPTH_EXCEEDED",
            "selection depth",
            depth,
            limits.max_depth,
        ));
    }
    let aliases = aliases(document, root, &mut Vec::new());
    if aliases > limits.max_aliases {
        return Err(exceeded(
            "MAX_ALIASES_EXCEEDED",
            "number of aliases",
            aliases,
            limits.max_aliases,
        ));
    }
    Ok(())
}

fn exceeded(code: &'static str, what: &str, actual: usize, limit: usize) -> RequestError {
    RequestError::LimitExceeded {
        code,
        message: format!("{what} is {actual}, above the limit of {limit}"),
    }
}

pub(crate) fn selection_set<'d>(
    operation: &'d OperationDefinition<'static, String>,
) -> &'d SelectionSet<'static, String> {
    match operation {
        OperationDefinition::SelectionSet(set) => set,
        OperationDefinition::Query(q) => &q.selection_set,
        OperationDefinition::Mutation(m) => &m.selection_set,
        OperationDefinition::Subscription(s) => &s.selection_set,
    }
}

fn fragment<'d>(document: &'d Doc, name: &str) -> Option<&'d SelectionSet<'static, String>> {
    document.definitions.iter().find_map(|d| match d {
        Definition::Fragment(f) if f.name == name => Some(&f.selection_set),
        _ => None,
    })
}

/// Follows a spread unless it is already on the current path (a cycle).
fn with_fragment<R: Default>(
    document: &Doc,
    name: &str,
    visiting: &mut Vec<String>,
    f: impl FnOnce(&SelectionSet<'static, String>, &mut Vec<String>) -> R,
) -> R {
    if visiting.iter().any(|v| v == name) {
        return R::default();
    }
    let Some(set) = fragment(document, name) else {
        return R::default();
    };
    visiting.push(name.to_owned());
    let result = f(set, visiting);
    visiting.pop();
    result
}

fn count_fields(
    document: &Doc,
    set: &SelectionSet<'static, String>,
    visiting: &mut Vec<String>,
) -> usize {
    set.items
        .iter()
        .map(|item| match item {
            Selection::Field(_) => 1,
            Selection::InlineFragment(inline) => {
                count_fields(document, &inline.selection_set, visiting)
            }
            Selection::FragmentSpread(spread) => {
                with_fragment(document, &spread.fragment_name, visiting, |s, v| {
                    count_fields(document, s, v)
                })
            }
        })
        .sum()
}

fn depth(document: &Doc, set: &SelectionSet<'static, String>, visiting: &mut Vec<String>) -> usize {
    set.items
        .iter()
        .map(|item| match item {
            Selection::Field(field) if field.selection_set.items.is_empty() => 1,
            Selection::Field(field) => 1 + depth(document, &field.selection_set, visiting),
            Selection::InlineFragment(inline) => depth(document, &inline.selection_set, visiting),
            Selection::FragmentSpread(spread) => {
                with_fragment(document, &spread.fragment_name, visiting, |s, v| {
                    depth(document, s, v)
                })
            }
        })
        .max()
        .unwrap_or(0)
}

fn aliases(
    document: &Doc,
    set: &SelectionSet<'static, String>,
    visiting: &mut Vec<String>,
) -> usize {
    set.items
        .iter()
        .map(|item| match item {
            Selection::Field(field) => {
                usize::from(field.alias.is_some())
                    + aliases(document, &field.selection_set, visiting)
            }
            Selection::InlineFragment(inline) => aliases(document, &inline.selection_set, visiting),
            Selection::FragmentSpread(spread) => {
                with_fragment(document, &spread.fragment_name, visiting, |s, v| {
                    aliases(document, s, v)
                })
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(query: &str, limits: Limits) -> Result<(), RequestError> {
        let document = graphql_tools::parser::parse_query::<String>(query)
            .unwrap()
            .into_static();
        let operation = document
            .definitions
            .iter()
            .find_map(|d| match d {
                Definition::Operation(op) => Some(op.clone()),
                _ => None,
            })
            .unwrap();
        check(&document, &operation, &limits)
    }

    #[test]
    fn depth_counts_through_fragments() {
        let query = "{ a { ...F } } fragment F on T { b { c } }";
        let limits = Limits {
            max_depth: 2,
            ..Limits::default()
        };
        let error = run(query, limits).unwrap_err();
        assert_eq!(error.code(), "MAX_DEPTH_EXCEEDED");
        assert_eq!(
            error.to_string(),
            "selection depth is 3, above the limit of 2"
        );
        assert!(
            run(
                query,
                Limits {
                    max_depth: 3,
                    ..Limits::default()
                }
            )
            .is_ok()
        );
    }

    #[test]
    fn aliases_and_root_fields_are_counted() {
        let query = "{ x: a y: a z: a }";
        let aliases = run(
            query,
            Limits {
                max_aliases: 2,
                ..Limits::default()
            },
        )
        .unwrap_err();
        assert_eq!(aliases.code(), "MAX_ALIASES_EXCEEDED");
        let roots = run(
            query,
            Limits {
                max_root_fields: 2,
                ..Limits::default()
            },
        )
        .unwrap_err();
        assert_eq!(roots.code(), "MAX_ROOT_FIELDS_EXCEEDED");
    }

    #[test]
    fn fragment_cycles_terminate() {
        assert!(
            run(
                "{ ...A } fragment A on Q { ...B } fragment B on Q { ...A a }",
                Limits::default()
            )
            .is_ok()
        );
    }
}
