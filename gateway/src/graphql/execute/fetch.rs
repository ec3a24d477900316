//! Root fetches: a Fetch node at the top of the plan sends its operation
//! and merges the answer at the top of the tree. Entity fetches live in
//! [`super::entities`].

use std::collections::BTreeSet;
use std::sync::Arc;

use hive_router_query_planner::planner::plan_nodes::FetchNode;
use serde_json::{Map, Value};

use super::ExecutionContext;
use super::subgraph_call::{self, SubgraphResponse};
use super::tree;

/// A fetch at the root of the operation.
pub(crate) async fn root_fetch(ctx: &ExecutionContext<'_>, node: &FetchNode) {
    let variables = used_variables(ctx, node.variable_usages.as_ref());
    let query = &node.operation.document_str;
    let body = subgraph_call::request_body(query, &variables, &[]);
    match subgraph_call::call(ctx, &node.service_name, query, body, 0).await {
        Ok(response) => {
            // Ours alone unless a concurrent identical request shared it.
            let SubgraphResponse { data, errors } =
                Arc::try_unwrap(response).unwrap_or_else(|shared| (*shared).clone());
            let rewritten = errors.into_iter().map(|error| {
                let path = error.path.clone();
                subgraph_call::rewrite_error(ctx, &node.service_name, error, path)
            });
            ctx.push_errors(rewritten.collect::<Vec<_>>());
            if let Some(mut data) = data {
                if let Some(rewrites) = &node.output_rewrites {
                    tree::apply_rewrites(&mut data, rewrites, ctx.types());
                }
                ctx.with_data(|root| tree::merge_into(root, data));
            }
        }
        Err(error) => ctx.push_errors([error]),
    }
}

/// The request's variables that the fetch's operation uses.
pub(crate) fn used_variables(
    ctx: &ExecutionContext<'_>,
    usages: Option<&BTreeSet<String>>,
) -> Map<String, Value> {
    usages
        .into_iter()
        .flatten()
        .filter_map(|name| {
            ctx.variables
                .get(name)
                .map(|value| (name.clone(), value.clone()))
        })
        .collect()
}
