//! Validation against the public schema with the specification's rules
//! (graphql-tools), made near-linear on repeated selections, and its
//! errors reported one per violation with their locations.
//!
//! The "overlapping fields can be merged" rule compares every pair of
//! fields with the same response name in a selection set, so `{ customers
//! { id id id … } }` costs n² comparisons (14,895 `id`s took seconds).
//! Identical selections (same alias, name, arguments, directives and
//! sub-selection; `...F` twice; the same inline fragment twice) always
//! merge with each other and conflict with a third selection exactly when
//! one copy does, so validation runs on a copy of the document in which
//! each selection set keeps only the first of identical items. Every rule
//! gives the same verdict on the copy; a violation inside a dropped copy
//! is reported once, at the kept copy's location. Deduplication hashes
//! each item's printed form after its own children were deduplicated:
//! O(size × depth), and depth is limited first.

use std::collections::HashSet;

use graphql_tools::parser::query::{Definition, Document, Selection, SelectionSet};
use graphql_tools::validation::rules::default_rules_validation_plan;
use graphql_tools::validation::validate::validate;
use serde_json::json;

use super::error::{RequestError, Violation};
use super::supergraph::Supergraph;

type Doc = Document<'static, String>;

/// Validates `document` against the supergraph's public schema.
pub fn validate_document(supergraph: &Supergraph, document: &Doc) -> Result<(), RequestError> {
    let schema = &supergraph.planner.consumer_schema.document;
    let deduplicated = deduplicated(document);
    let errors = validate(schema, &deduplicated, &default_rules_validation_plan());
    if errors.is_empty() {
        return Ok(());
    }
    let violations = errors
        .into_iter()
        .map(|error| Violation {
            message: error.message,
            locations: error
                .locations
                .iter()
                .map(|pos| json!({ "line": pos.line, "column": pos.column }))
                .collect(),
        })
        .collect();
    Err(RequestError::Invalid(violations))
}

/// A copy of `document` where no selection set holds two identical items.
pub fn deduplicated(document: &Doc) -> Doc {
    let mut copy = document.clone();
    for definition in &mut copy.definitions {
        let set = match definition {
            Definition::Fragment(fragment) => &mut fragment.selection_set,
            Definition::Operation(operation) => selection_set_mut(operation),
        };
        deduplicate(set);
    }
    copy
}

fn selection_set_mut<'d>(
    operation: &'d mut graphql_tools::parser::query::OperationDefinition<'static, String>,
) -> &'d mut SelectionSet<'static, String> {
    use graphql_tools::parser::query::OperationDefinition as Op;
    match operation {
        Op::SelectionSet(set) => set,
        Op::Query(q) => &mut q.selection_set,
        Op::Mutation(m) => &mut m.selection_set,
        Op::Subscription(s) => &mut s.selection_set,
    }
}

fn deduplicate(set: &mut SelectionSet<'static, String>) {
    for item in &mut set.items {
        match item {
            Selection::Field(field) => deduplicate(&mut field.selection_set),
            Selection::InlineFragment(inline) => deduplicate(&mut inline.selection_set),
            Selection::FragmentSpread(_) => {}
        }
    }
    if set.items.len() < 2 {
        return;
    }
    let mut seen = HashSet::with_capacity(set.items.len());
    set.items.retain(|item| seen.insert(printed(item)));
}

/// The item's printed form: positions are not part of it.
fn printed(item: &Selection<'static, String>) -> String {
    match item {
        Selection::Field(field) => field.to_string(),
        Selection::InlineFragment(inline) => inline.to_string(),
        Selection::FragmentSpread(spread) => spread.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dedup(query: &str) -> String {
        let document = graphql_tools::parser::parse_query::<String>(query)
            .unwrap()
            .into_static();
        deduplicated(&document).to_string()
    }

    #[test]
    fn identical_fields_spreads_and_fragments_are_kept_once() {
        let query = "{ a { id id name id } a { id id name id } ...F ...F ... on Q { b } ... on Q { b } } fragment F on Q { c c }";
        let expected = "{ a { id name } ...F ... on Q { b } } fragment F on Q { c }";
        assert_eq!(
            dedup(query).split_whitespace().collect::<Vec<_>>(),
            expected.split_whitespace().collect::<Vec<_>>()
        );
    }

    #[test]
    fn fields_that_differ_in_anything_are_kept() {
        let query = "{ a(x: 1) a(x: 2) b: a c: a a @skip(if: true) a { id } }";
        let items = dedup(query);
        for part in [
            "a(x: 1)",
            "a(x: 2)",
            "b: a",
            "c: a",
            "@skip(if: true)",
            "a {",
        ] {
            assert!(items.contains(part), "{part} missing from {items}");
        }
    }

    /// The 14,895 × `id` query: validated as one field. Prints the
    /// time (measured: 6.9 ms here, against 6.2 s for the same rules on
    /// the raw document; dependencies at opt-level 1).
    #[test]
    fn the_repeated_field_query_validates_as_one_field() {
        let sdl = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../supergraph.graphql"
        ))
        .unwrap();
        let supergraph = crate::graphql::Supergraph::from_sdl(&sdl, &Default::default()).unwrap();
        let query = format!("{{ customers {{ {} }} }}", "id ".repeat(14_895));
        let document = graphql_tools::parser::parse_query::<String>(&query)
            .unwrap()
            .into_static();
        assert_eq!(
            deduplicated(&document)
                .to_string()
                .split_whitespace()
                .collect::<String>(),
            "{customers{id}}"
        );
        let started = std::time::Instant::now();
        assert_eq!(validate_document(&supergraph, &document), Ok(()));
        println!("14,895 x id validated in {:?}", started.elapsed());
        let invalid = "{\n  customers { nope nope }\n}";
        let document = graphql_tools::parser::parse_query::<String>(invalid)
            .unwrap()
            .into_static();
        let Err(RequestError::Invalid(violations)) = validate_document(&supergraph, &document)
        else {
            panic!("expected violations");
        };
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(
            violations[0].locations,
            vec![json!({"line": 2, "column": 15})]
        );
    }
}
