//! Composition: turns subgraph SDLs into a Federation v2 supergraph SDL in
//! the join v0.3 form the query planner reads (the form Apollo's
//! composition writes), for the subset of Federation v2 our subgraphs use.
//!
//! It merges each type across the subgraphs that define it and writes the
//! `@join__type` (with keys), `@join__field` (external / requires /
//! provides / override), `@join__implements`, `@join__unionMember` and
//! `@join__enumValue` directives; `@inaccessible`, `@authenticated` and
//! `@requiresScopes` are carried over (the last two with their `@link`s). A
//! `@join__field` is omitted where Apollo omits it: on a plain field that
//! every subgraph of its type defines. It does not validate satisfiability:
//! the planner reports an operation it cannot plan.

mod authorization;
mod emit;
mod subgraph;

use std::collections::BTreeMap;

pub use emit::PREAMBLE as SUPERGRAPH_DEFINITIONS;
pub use subgraph::SubgraphSdl;
use subgraph::{SubgraphModel, TypeModel, read_subgraph};

/// Why composition failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupergraphComposeError {
    #[error("subgraph {subgraph:?}: invalid SDL: {message}")]
    Parse { subgraph: String, message: String },
    #[error("type {name:?} is a {first} in one subgraph and a {second} in another")]
    KindMismatch {
        name: String,
        first: &'static str,
        second: &'static str,
    },
    #[error("no subgraph defines a Query type")]
    NoQuery,
    #[error("two subgraphs are named {0:?} (subgraph names must be unique)")]
    DuplicateName(String),
}

/// One type merged across the subgraphs that define it, in subgraph order.
pub(crate) struct MergedType<'a> {
    pub name: &'a str,
    pub kind: subgraph::TypeKind,
    pub definitions: Vec<(usize, &'a TypeModel)>,
}

/// Composes the supergraph SDL of `subgraphs` (their order names the
/// `join__Graph` values' order).
pub fn compose_supergraph(subgraphs: &[SubgraphSdl]) -> Result<String, SupergraphComposeError> {
    let models = subgraphs
        .iter()
        .map(read_subgraph)
        .collect::<Result<Vec<_>, _>>()?;
    check_unique_names(&models)?;
    let merged = merge_types(&models)?;
    if !merged.contains_key("Query") {
        return Err(SupergraphComposeError::NoQuery);
    }
    Ok(emit::supergraph(&models, &merged))
}

fn check_unique_names(models: &[SubgraphModel]) -> Result<(), SupergraphComposeError> {
    let mut seen = std::collections::HashSet::new();
    for model in models {
        if !seen.insert(graph_enum_name(&model.name)) {
            return Err(SupergraphComposeError::DuplicateName(model.name.clone()));
        }
    }
    Ok(())
}

fn merge_types(
    models: &[SubgraphModel],
) -> Result<BTreeMap<&str, MergedType<'_>>, SupergraphComposeError> {
    let mut merged: BTreeMap<&str, MergedType<'_>> = BTreeMap::new();
    for (graph, model) in models.iter().enumerate() {
        for ty in &model.types {
            let entry = merged
                .entry(ty.name.as_str())
                .or_insert_with(|| MergedType {
                    name: &ty.name,
                    kind: ty.kind,
                    definitions: Vec::new(),
                });
            if entry.kind != ty.kind {
                return Err(SupergraphComposeError::KindMismatch {
                    name: ty.name.clone(),
                    first: entry.kind.keyword(),
                    second: ty.kind.keyword(),
                });
            }
            entry.definitions.push((graph, ty));
        }
    }
    Ok(merged)
}

/// The `join__Graph` value of a subgraph: its name in upper case, with
/// anything but letters, digits and `_` turned into `_`.
pub fn graph_enum_name(subgraph: &str) -> String {
    let name: String = subgraph
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{name}")
    } else {
        name
    }
}

/// The supergraph of one subgraph `a` with this SDL, parsed: the small
/// schemas the executor's and shaping's tests are written against.
#[cfg(test)]
pub(crate) fn one_subgraph_supergraph(
    sdl: &str,
) -> graphql_tools::static_graphql::schema::Document {
    let subgraph = SubgraphSdl {
        name: "a".into(),
        url: "http://a/graphql".into(),
        sdl: sdl.into(),
    };
    let composed = compose_supergraph(&[subgraph]).expect("the test SDL composes");
    hive_router_query_planner::utils::parsing::safe_parse_schema(&composed)
        .expect("the composed supergraph parses")
}

/// [`one_subgraph_supergraph`]'s planner state and shaping index.
#[cfg(test)]
pub(crate) fn one_subgraph_types(
    sdl: &str,
) -> (
    hive_router_query_planner::state::supergraph_state::SupergraphState,
    super::response_types::ResponseTypes,
) {
    use hive_router_query_planner::consumer_schema::ConsumerSchema;
    use hive_router_query_planner::state::supergraph_state::SupergraphState;
    let supergraph = one_subgraph_supergraph(sdl);
    let state = SupergraphState::new(&supergraph);
    let consumer = ConsumerSchema::new_from_supergraph(&supergraph);
    let types = super::response_types::ResponseTypes::new(&state, &consumer.document);
    (state, types)
}

#[cfg(test)]
mod reference_tests;
#[cfg(test)]
mod tests;
