//! Entity fetches. A Flatten(Fetch) node and a BatchFetch node both send
//! one request to one subgraph; it holds one or more `_entities` fields
//! (a BatchFetch aliases them `_e0`, `_e1`, …), each fed by its own
//! representations variable built from the entities at its paths. The
//! representations of a group are deduplicated, and each answer is merged
//! back into every position that sent it.

use std::borrow::Cow;
use std::collections::HashMap;

use hive_router_query_planner::ast::selection_set::SelectionSet;
use hive_router_query_planner::planner::plan_nodes::{
    BatchFetchNode, FetchNode, FetchRewrite, FlattenNodePath,
};
use serde_json::{Map, Value};

use super::ExecutionContext;
use super::fetch::used_variables;
use super::representation::{Representation, representation};
use super::subgraph_call::{self, SubgraphError, SubgraphResponse};
use super::tree::{self, Position, PossibleTypes};
use crate::graphql::error::GraphqlError;

/// The variable and response key of a plain (Flatten) entity fetch.
const REPRESENTATIONS: &str = "representations";
const ENTITIES: &str = "_entities";

/// One `_entities` field of an entity fetch.
struct EntityGroup<'n> {
    /// Its key in the subgraph's `data`.
    response_key: &'n str,
    /// The variable carrying its representations.
    variable: &'n str,
    /// Where its entities are in the tree.
    paths: &'n [FlattenNodePath],
    requires: &'n SelectionSet,
    input_rewrites: &'n [FetchRewrite],
    output_rewrites: &'n [FetchRewrite],
}

/// One request for entities to one subgraph.
struct EntityFetch<'n> {
    service: &'n str,
    query: &'n str,
    variables: Map<String, Value>,
    groups: Vec<EntityGroup<'n>>,
}

/// A group's representations to send, and for each entity position the
/// index of its representation.
#[derive(Default)]
struct Gathered<'n> {
    representations: Vec<Value>,
    targets: Vec<(Position<'n>, usize)>,
    /// Entities without a value for a key field, and that field: not sent.
    invalid: Vec<(Position<'n>, String)>,
}

/// A Flatten(Fetch) node: entities at `path`.
pub(crate) async fn flatten_fetch(
    ctx: &ExecutionContext<'_>,
    path: &FlattenNodePath,
    node: &FetchNode,
) {
    let Some(requires) = &node.requires else {
        return;
    };
    let group = EntityGroup {
        response_key: ENTITIES,
        variable: REPRESENTATIONS,
        paths: std::slice::from_ref(path),
        requires,
        input_rewrites: node.input_rewrites.as_deref().unwrap_or_default(),
        output_rewrites: node.output_rewrites.as_deref().unwrap_or_default(),
    };
    run(
        ctx,
        EntityFetch {
            service: &node.service_name,
            query: &node.operation.document_str,
            variables: used_variables(ctx, node.variable_usages.as_ref()),
            groups: vec![group],
        },
    )
    .await;
}

/// A BatchFetch node: several entity fetches to one subgraph merged into
/// one request, one aliased `_entities` field per group.
pub(crate) async fn batch_fetch(ctx: &ExecutionContext<'_>, node: &BatchFetchNode) {
    let groups = node
        .entity_batch
        .aliases
        .iter()
        .map(|alias| EntityGroup {
            response_key: &alias.alias,
            variable: &alias.representations_variable_name,
            paths: &alias.merge_paths,
            requires: &alias.requires,
            input_rewrites: alias.input_rewrites.as_deref().unwrap_or_default(),
            output_rewrites: alias.output_rewrites.as_deref().unwrap_or_default(),
        })
        .collect();
    run(
        ctx,
        EntityFetch {
            service: &node.service_name,
            query: &node.operation.document_str,
            variables: used_variables(ctx, node.variable_usages.as_ref()),
            groups,
        },
    )
    .await;
}

async fn run(ctx: &ExecutionContext<'_>, mut fetch: EntityFetch<'_>) {
    let types = ctx.types();
    let mut gathered: Vec<Gathered> = ctx.with_data(|root| {
        fetch
            .groups
            .iter()
            .map(|g| gather(root, g, types))
            .collect()
    });
    null_invalid_entities(ctx, fetch.service, &gathered);
    if gathered.iter().all(|g| g.representations.is_empty()) {
        return;
    }
    // Every group's variable is declared non-null: an empty group sends [].
    for (group, batch) in fetch.groups.iter().zip(&mut gathered) {
        let representations = std::mem::take(&mut batch.representations);
        fetch
            .variables
            .insert(group.variable.to_owned(), Value::Array(representations));
    }
    let variables = std::mem::take(&mut fetch.variables);
    match subgraph_call::call(ctx, fetch.service, fetch.query, variables).await {
        Ok(response) => merge(ctx, &fetch, &gathered, &response),
        Err(error) => {
            let first = gathered
                .iter()
                .find_map(|g| g.targets.first())
                .map(|(position, _)| tree::error_path(position));
            ctx.push_errors([match first {
                Some(path) => error.at(path),
                None => error,
            }]);
        }
    }
}

fn gather<'n>(root: &Value, group: &EntityGroup<'n>, types: PossibleTypes<'_>) -> Gathered<'n> {
    // Keyed by the serialised representation (bytes from subgraph data),
    // hashed with foldhash's seeded quality hasher: SipHash showed up in
    // the profile.
    let mut seen: HashMap<Vec<u8>, usize, foldhash::quality::RandomState> = HashMap::default();
    let mut batch = Gathered::default();
    for path in group.paths {
        for (position, entity) in tree::collect_entities(root, path.as_slice(), types) {
            let mut representation = match representation(entity, group.requires, types) {
                Representation::Valid(representation) => representation,
                Representation::Invalid(field) => {
                    batch.invalid.push((position, field));
                    continue;
                }
                Representation::NotApplicable => continue,
            };
            tree::apply_rewrites(&mut representation, group.input_rewrites, types);
            // Serialised straight to bytes (not through `Display`).
            let key = serde_json::to_vec(&representation).unwrap_or_default();
            let index = *seen.entry(key).or_insert_with(|| {
                batch.representations.push(representation);
                batch.representations.len() - 1
            });
            batch.targets.push((position, index));
        }
    }
    batch
}

/// An entity that cannot be represented resolves to null, with an error
/// at its path; the others of the batch are still fetched.
fn null_invalid_entities(ctx: &ExecutionContext<'_>, service: &str, gathered: &[Gathered<'_>]) {
    let invalid: Vec<&(Position<'_>, String)> = gathered.iter().flat_map(|g| &g.invalid).collect();
    if invalid.is_empty() {
        return;
    }
    ctx.with_data(|root| {
        for (position, _) in &invalid {
            if let Some(entity) = tree::get_mut(root, position) {
                *entity = Value::Null;
            }
        }
    });
    ctx.push_errors(invalid.into_iter().map(|(position, field)| {
        GraphqlError::new(
            "INVALID_ENTITY_REPRESENTATION",
            format!(
                "the entity has no value for its key field {field:?}, so it was not fetched from subgraph {service:?}"
            ),
        )
        .with_extension("serviceName", service)
        .at(tree::error_path(position))
    }).collect::<Vec<_>>());
}

/// Merges the answer (read in place: it may be shared with concurrent
/// identical requests) into every position that asked for each entity.
fn merge(
    ctx: &ExecutionContext<'_>,
    fetch: &EntityFetch<'_>,
    gathered: &[Gathered<'_>],
    response: &SubgraphResponse,
) {
    let data = response.data.as_ref().and_then(Value::as_object);
    let types = ctx.types();
    let answers: Vec<Cow<'_, [Value]>> = fetch
        .groups
        .iter()
        .map(|group| {
            let entities = match data.and_then(|d| d.get(group.response_key)) {
                Some(Value::Array(entities)) => entities.as_slice(),
                _ => &[],
            };
            if group.output_rewrites.is_empty() {
                return Cow::Borrowed(entities);
            }
            let mut entities = entities.to_vec();
            for entity in &mut entities {
                tree::apply_rewrites(entity, group.output_rewrites, types);
            }
            Cow::Owned(entities)
        })
        .collect();
    let errors: Vec<_> = response
        .errors
        .iter()
        .cloned()
        .flat_map(|error| rewrite_entity_error(ctx, fetch, gathered, error))
        .collect();
    ctx.push_errors(errors);
    ctx.with_data(|root| {
        for (batch, entities) in gathered.iter().zip(&answers) {
            for (position, index) in &batch.targets {
                let (Some(target), Some(entity)) =
                    (tree::get_mut(root, position), entities.get(*index))
                else {
                    continue;
                };
                merge_entity(target, entity, types);
            }
        }
    });
}

/// Merges a subgraph's answer for one entity. A `__typename` naming an
/// interface (from a subgraph that knows the type only as an
/// `@interfaceObject`) never replaces the concrete type already known.
fn merge_entity(target: &mut Value, entity: &Value, types: PossibleTypes<'_>) {
    let abstract_typename = entity
        .get("__typename")
        .and_then(Value::as_str)
        .is_some_and(|t| types.is_interface(t));
    let known = target.get("__typename").is_some_and(Value::is_string);
    let skip = if abstract_typename && known {
        Some("__typename")
    } else {
        None
    };
    // Borrowed: only the values the target lacks are copied.
    tree::deep_merge_borrowed(target, entity, skip);
}

/// A subgraph error at `[response_key, i, rest..]` is reported at the
/// path of every position that sent representation `i` of that group,
/// followed by `rest`; any other error keeps no path.
fn rewrite_entity_error(
    ctx: &ExecutionContext<'_>,
    fetch: &EntityFetch<'_>,
    gathered: &[Gathered<'_>],
    error: SubgraphError,
) -> Vec<GraphqlError> {
    let paths = entity_error_paths(error.path.as_deref(), fetch, gathered);
    if paths.is_empty() {
        return vec![subgraph_call::rewrite_error(
            ctx,
            fetch.service,
            error,
            None,
        )];
    }
    paths
        .into_iter()
        .map(|path| subgraph_call::rewrite_error(ctx, fetch.service, error.clone(), Some(path)))
        .collect()
}

fn entity_error_paths(
    path: Option<&[Value]>,
    fetch: &EntityFetch<'_>,
    gathered: &[Gathered<'_>],
) -> Vec<Vec<Value>> {
    let Some(path) = path else { return Vec::new() };
    let (Some(key), Some(index)) = (
        path.first().and_then(Value::as_str),
        path.get(1).and_then(Value::as_u64),
    ) else {
        return Vec::new();
    };
    let Some(batch) = fetch
        .groups
        .iter()
        .position(|group| group.response_key == key)
        .and_then(|i| gathered.get(i))
    else {
        return Vec::new();
    };
    batch
        .targets
        .iter()
        .filter(|(_, i)| *i as u64 == index)
        .map(|(position, _)| {
            let mut full = tree::error_path(position);
            full.extend(path[2..].iter().cloned());
            full
        })
        .collect()
}
