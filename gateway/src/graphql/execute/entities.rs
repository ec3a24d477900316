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
use super::representation::{Representation, representation, write_representation};
use super::subgraph_call::{self, SubgraphError, SubgraphResponse};
use super::tree::{self, Position, PossibleTypes};
use crate::graphql::error::GraphqlError;
use crate::graphql::json_map;
use crate::json_write;

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
struct Gathered<'n> {
    /// The representations as a JSON array, each once.
    representations: Vec<u8>,
    /// How many `representations` holds.
    count: usize,
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

async fn run(ctx: &ExecutionContext<'_>, fetch: EntityFetch<'_>) {
    let types = ctx.types();
    let gathered: Vec<Gathered> = ctx.with_data(|root| {
        fetch
            .groups
            .iter()
            .map(|g| gather(root, g, types))
            .collect()
    });
    null_invalid_entities(ctx, fetch.service, &gathered);
    let entities: usize = gathered.iter().map(|g| g.count).sum();
    if entities == 0 {
        return;
    }
    // Every group's variable is declared non-null: an empty group sends [].
    let written: Vec<(&str, &[u8])> = fetch
        .groups
        .iter()
        .zip(&gathered)
        .map(|(group, batch)| (group.variable, batch.representations.as_slice()))
        .collect();
    let body = subgraph_call::request_body(fetch.query, &fetch.variables, &written);
    match subgraph_call::call(ctx, fetch.service, fetch.query, body, entities).await {
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
    // Keyed by the representation's JSON text, hashed with foldhash's
    // seeded quality hasher: SipHash showed up in the profile.
    let mut seen: HashMap<Vec<u8>, usize, foldhash::quality::RandomState> = HashMap::default();
    let mut batch = Gathered {
        representations: vec![b'['],
        count: 0,
        targets: Vec::new(),
        invalid: Vec::new(),
    };
    let mut written = Vec::new();
    for path in group.paths {
        for (position, entity) in tree::collect_entities(root, path.as_slice(), types) {
            written.clear();
            match write(entity, group, types, &mut written) {
                Representation::Valid(()) => {}
                Representation::Invalid(field) => {
                    batch.invalid.push((position, field));
                    continue;
                }
                Representation::NotApplicable => continue,
            }
            let index = match seen.get(written.as_slice()) {
                Some(index) => *index,
                None => {
                    if batch.count > 0 {
                        batch.representations.push(b',');
                    }
                    batch.representations.extend_from_slice(&written);
                    seen.insert(written.clone(), batch.count);
                    batch.count += 1;
                    batch.count - 1
                }
            };
            batch.targets.push((position, index));
        }
    }
    batch.representations.push(b']');
    batch
}

/// Writes `entity`'s representation for `group` into `out`: straight from
/// the tree, or through a value when the group rewrites representations
/// (`@interfaceObject`) or the selection repeats a key (merged).
fn write(
    entity: &Value,
    group: &EntityGroup<'_>,
    types: PossibleTypes<'_>,
    out: &mut Vec<u8>,
) -> Representation<()> {
    if group.input_rewrites.is_empty() {
        if let Ok(outcome) = write_representation(entity, group.requires, types, out) {
            return outcome;
        }
        out.clear();
    }
    match representation(entity, group.requires, types) {
        Representation::Valid(mut value) => {
            tree::apply_rewrites(&mut value, group.input_rewrites, types);
            json_write::value(out, &value);
            Representation::Valid(())
        }
        Representation::Invalid(field) => Representation::Invalid(field),
        Representation::NotApplicable => Representation::NotApplicable,
    }
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

fn typename(value: &Value) -> Option<&str> {
    value.as_object().and_then(json_map::typename)
}

/// Merges a subgraph's answer for one entity. A `__typename` naming an
/// interface (from a subgraph that knows the type only as an
/// `@interfaceObject`) never replaces the concrete type already known.
fn merge_entity(target: &mut Value, entity: &Value, types: PossibleTypes<'_>) {
    let abstract_typename = typename(entity).is_some_and(|t| types.is_interface(t));
    let known = typename(target).is_some();
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
