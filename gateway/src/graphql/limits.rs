//! Protection limits checked on the parsed document before validation,
//! normalization or planning, in time linear in the document: selection
//! depth, aliases, root fields, fields after fragment expansion and the
//! widest selection set (tokens are capped by the parser and the body size
//! by the request reader). Fragments are summarised once each
//! ([`cost`]), so a fragment bomb is measured without being expanded, and
//! a fragment cycle is rejected here.
//!
//! Every operation and fragment of the document is checked, not only the
//! one that runs: validation walks them all.

pub mod cost;

use graphql_tools::parser::query::{Definition, Document, OperationDefinition, SelectionSet};

use super::error::RequestError;
pub use crate::config::model::Limits;
use cost::{Cost, CostAnalysis, FragmentCycle};

type Doc = Document<'static, String>;

/// Checks every operation and fragment of `document` against `limits`.
pub fn check(document: &Doc, limits: &Limits) -> Result<(), RequestError> {
    let mut analysis = CostAnalysis::new(document);
    let mut worst = Cost::default();
    let mut root_fields = 0;
    for definition in &document.definitions {
        let cost = match definition {
            Definition::Operation(operation) => {
                let cost = analysis
                    .selection_set(selection_set(operation))
                    .map_err(cycle_error)?;
                root_fields = root_fields.max(cost.width);
                cost
            }
            Definition::Fragment(fragment) => {
                analysis.fragment(&fragment.name).map_err(cycle_error)?
            }
        };
        worst = Cost {
            fields: worst.fields.max(cost.fields),
            width: worst.width.max(cost.width),
            widest_below: worst.widest_below.max(cost.widest_below),
            depth: worst.depth.max(cost.depth),
            aliases: worst.aliases.max(cost.aliases),
        };
    }
    let checks = [
        (
            "MAX_ROOT_FIELDS_EXCEEDED",
            "root fields",
            root_fields,
            limits.max_root_fields,
        ),
        (
            "MAX_DEPTH_EXCEEDED",
            "selection depth",
            worst.depth,
            limits.max_depth,
        ),
        (
            "MAX_ALIASES_EXCEEDED",
            "number of aliases",
            worst.aliases,
            limits.max_aliases,
        ),
        (
            "MAX_EXPANDED_FIELDS_EXCEEDED",
            "number of fields after fragment expansion",
            worst.fields,
            limits.max_expanded_fields,
        ),
        (
            "MAX_SELECTION_FIELDS_EXCEEDED",
            "number of fields in one selection set",
            worst.widest(),
            limits.max_selection_fields,
        ),
    ];
    for (code, what, actual, limit) in checks {
        if actual > limit as u64 {
            return Err(exceeded(code, what, actual, limit));
        }
    }
    Ok(())
}

fn exceeded(code: &'static str, what: &str, actual: u64, limit: usize) -> RequestError {
    let actual = if actual == u64::MAX {
        "astronomical".to_owned()
    } else {
        actual.to_string()
    };
    RequestError::LimitExceeded {
        code,
        message: format!("{what} is {actual}, above the limit of {limit}"),
    }
}

fn cycle_error(cycle: FragmentCycle) -> RequestError {
    RequestError::Validation(format!(
        "fragment {} spreads itself ({})",
        cycle.0.first().map_or("", String::as_str),
        cycle.0.join(" → ")
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run(query: &str, limits: Limits) -> Result<(), RequestError> {
        let document = graphql_tools::parser::parse_query::<String>(query)
            .unwrap()
            .into_static();
        check(&document, &limits)
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
    fn fragment_cycles_are_rejected() {
        let error = run(
            "{ ...A } fragment A on Q { ...B } fragment B on Q { ...A a }",
            Limits::default(),
        )
        .unwrap_err();
        assert_eq!(error.code(), "GRAPHQL_VALIDATION_FAILED");
        assert_eq!(error.to_string(), "fragment A spreads itself (A → B → A)");
    }

    #[test]
    fn the_fragment_bomb_is_rejected_by_its_expanded_size() {
        let error = run(&cost::tests::fragment_bomb(22), Limits::default()).unwrap_err();
        assert_eq!(error.code(), "MAX_EXPANDED_FIELDS_EXCEEDED");
        assert_eq!(
            error.to_string(),
            "number of fields after fragment expansion is 4194305, above the limit of 5000"
        );
    }

    #[test]
    fn an_unused_fragment_is_checked_too() {
        let query = format!("{{ a }} fragment Big on T {{ {} }}", "x ".repeat(501));
        let error = run(&query, Limits::default()).unwrap_err();
        assert_eq!(error.code(), "MAX_SELECTION_FIELDS_EXCEEDED");
    }

    #[test]
    fn one_wide_selection_set_is_capped() {
        let query = format!("{{ customers {{ {} }} }}", "id ".repeat(14_895));
        let limits = Limits {
            max_expanded_fields: 20_000,
            ..Limits::default()
        };
        let error = run(&query, limits).unwrap_err();
        assert_eq!(error.code(), "MAX_SELECTION_FIELDS_EXCEEDED");
        assert_eq!(
            error.to_string(),
            "number of fields in one selection set is 14895, above the limit of 500"
        );
    }
}
