//! Fetch nodes: a root fetch merges its data at the top of the tree; an
//! entity fetch (under Flatten) gathers the entities at its path, sends
//! their deduplicated representations to `_entities`, and merges each
//! answer back into every position it came from.

use std::collections::HashMap;

use hive_router_query_planner::planner::plan_nodes::{FetchNode, FlattenNodePath};
use serde_json::{Map, Value};

use super::ExecutionContext;
use super::subgraph_call::{self, SubgraphResponse};
use super::tree::{self, Position};

/// A fetch at the root of the operation.
pub(crate) async fn root_fetch(ctx: &ExecutionContext<'_>, node: &FetchNode) {
    let variables = used_variables(ctx, node);
    let query = &node.operation.document_str;
    match subgraph_call::call(ctx, &node.service_name, query, variables).await {
        Ok(SubgraphResponse { data, errors }) => {
            let rewritten = errors.into_iter().map(|error| {
                let path = error.path.clone();
                subgraph_call::rewrite_error(ctx, &node.service_name, error, path)
            });
            ctx.push_errors(rewritten.collect::<Vec<_>>());
            if let Some(mut data) = data {
                if let Some(rewrites) = &node.output_rewrites {
                    tree::apply_rewrites(&mut data, rewrites);
                }
                ctx.with_data(|root| tree::deep_merge(root, data));
            }
        }
        Err(error) => ctx.push_errors([error]),
    }
}

/// Representations to send, and for each entity position the index of
/// its representation.
struct EntityBatch {
    representations: Vec<Value>,
    targets: Vec<(Position, usize)>,
}

/// A fetch of entities at `path`.
pub(crate) async fn entity_fetch(
    ctx: &ExecutionContext<'_>,
    path: &FlattenNodePath,
    node: &FetchNode,
) {
    let batch = ctx.with_data(|root| gather(root, path, node));
    if batch.representations.is_empty() {
        return;
    }
    let mut variables = used_variables(ctx, node);
    variables.insert(
        "representations".to_owned(),
        Value::Array(batch.representations),
    );
    let query = &node.operation.document_str;
    match subgraph_call::call(ctx, &node.service_name, query, variables).await {
        Ok(response) => merge_entities(ctx, node, &batch.targets, response),
        Err(error) => {
            let first = batch
                .targets
                .first()
                .map(|(position, _)| tree::error_path(position));
            ctx.push_errors([match first {
                Some(path) => error.at(path),
                None => error,
            }]);
        }
    }
}

fn gather(root: &Value, path: &FlattenNodePath, node: &FetchNode) -> EntityBatch {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut batch = EntityBatch {
        representations: Vec::new(),
        targets: Vec::new(),
    };
    let Some(requires) = &node.requires else {
        return batch;
    };
    for position in tree::collect_positions(root, path.as_slice()) {
        let Some(entity) = tree::get(root, &position) else {
            continue;
        };
        let Some(mut representation) = tree::representation(entity, requires) else {
            continue;
        };
        if let Some(rewrites) = &node.input_rewrites {
            tree::apply_rewrites(&mut representation, rewrites);
        }
        let key = representation.to_string();
        let index = *seen.entry(key).or_insert_with(|| {
            batch.representations.push(representation);
            batch.representations.len() - 1
        });
        batch.targets.push((position, index));
    }
    batch
}

fn merge_entities(
    ctx: &ExecutionContext<'_>,
    node: &FetchNode,
    targets: &[(Position, usize)],
    response: SubgraphResponse,
) {
    let mut entities = match response.data {
        Some(Value::Object(mut data)) => match data.remove("_entities") {
            Some(Value::Array(entities)) => entities,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    if let Some(rewrites) = &node.output_rewrites {
        entities
            .iter_mut()
            .for_each(|entity| tree::apply_rewrites(entity, rewrites));
    }
    let errors = response.errors.into_iter().flat_map(|error| {
        let paths = entity_error_paths(&error.path, targets);
        let service = &node.service_name;
        if paths.is_empty() {
            vec![subgraph_call::rewrite_error(ctx, service, error, None)]
        } else {
            paths
                .into_iter()
                .map(|path| {
                    subgraph_call::rewrite_error(ctx, service, clone_error(&error), Some(path))
                })
                .collect()
        }
    });
    ctx.push_errors(errors.collect::<Vec<_>>());
    ctx.with_data(|root| {
        for (position, index) in targets {
            let (Some(target), Some(entity)) =
                (tree::get_mut(root, position), entities.get(*index))
            else {
                continue;
            };
            tree::deep_merge(target, entity.clone());
        }
    });
}

fn clone_error(error: &subgraph_call::SubgraphError) -> subgraph_call::SubgraphError {
    subgraph_call::SubgraphError {
        message: error.message.clone(),
        path: error.path.clone(),
        extensions: error.extensions.clone(),
    }
}

/// `["_entities", i, rest..]` becomes the path of every position that sent
/// representation `i`, followed by `rest`.
fn entity_error_paths(path: &Option<Vec<Value>>, targets: &[(Position, usize)]) -> Vec<Vec<Value>> {
    let Some(path) = path else { return Vec::new() };
    let (Some("_entities"), Some(index)) = (
        path.first().and_then(Value::as_str),
        path.get(1).and_then(Value::as_u64),
    ) else {
        return Vec::new();
    };
    targets
        .iter()
        .filter(|(_, i)| *i as u64 == index)
        .map(|(position, _)| {
            let mut full = tree::error_path(position);
            full.extend(path[2..].iter().cloned());
            full
        })
        .collect()
}

fn used_variables(ctx: &ExecutionContext<'_>, node: &FetchNode) -> Map<String, Value> {
    node.variable_usages
        .iter()
        .flatten()
        .filter_map(|name| {
            ctx.variables
                .get(name)
                .map(|value| (name.clone(), value.clone()))
        })
        .collect()
}
