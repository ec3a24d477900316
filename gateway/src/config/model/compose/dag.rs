//! The call graph: which call waits for which, checked for cycles.
//!
//! Edges come from the templates: a call whose path, headers or body read
//! `{order.…}` depends on `order`. The graph is built once per config and
//! is plain data; the executor walks it per request.

use std::collections::BTreeSet;

/// Calls by index, with both edge directions and a topological order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallGraph {
    /// `dependencies[i]`: the calls `i` reads.
    pub dependencies: Vec<BTreeSet<usize>>,
    /// `dependents[i]`: the calls that read `i`.
    pub dependents: Vec<Vec<usize>>,
    /// Every call after all of its dependencies; ties keep declaration order.
    pub order: Vec<usize>,
}

/// A cycle, as the call indices along it (the first repeated at the end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle(pub Vec<usize>);

impl CallGraph {
    /// Builds the graph, or returns one cycle.
    pub fn build(dependencies: Vec<BTreeSet<usize>>) -> Result<Self, Cycle> {
        if let Some(cycle) = find_cycle(&dependencies) {
            return Err(cycle);
        }
        let mut dependents = vec![Vec::new(); dependencies.len()];
        for (call, deps) in dependencies.iter().enumerate() {
            for &dep in deps {
                dependents[dep].push(call);
            }
        }
        let order = topological_order(&dependencies);
        Ok(Self {
            dependencies,
            dependents,
            order,
        })
    }

    pub fn len(&self) -> usize {
        self.dependencies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dependencies.is_empty()
    }

    /// Calls with no dependencies: they start at once.
    pub fn roots(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).filter(|&call| self.dependencies[call].is_empty())
    }
}

/// Kahn's algorithm, always taking the lowest ready index.
fn topological_order(dependencies: &[BTreeSet<usize>]) -> Vec<usize> {
    let mut waiting: Vec<usize> = dependencies.iter().map(BTreeSet::len).collect();
    let mut ready: BTreeSet<usize> = (0..dependencies.len())
        .filter(|&call| waiting[call] == 0)
        .collect();
    let mut order = Vec::with_capacity(dependencies.len());
    while let Some(call) = ready.pop_first() {
        order.push(call);
        for (other, deps) in dependencies.iter().enumerate() {
            if deps.contains(&call) {
                waiting[other] -= 1;
                if waiting[other] == 0 {
                    ready.insert(other);
                }
            }
        }
    }
    order
}

/// Depth-first search with an explicit stack of "on the current path".
fn find_cycle(dependencies: &[BTreeSet<usize>]) -> Option<Cycle> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit(
        call: usize,
        deps: &[BTreeSet<usize>],
        marks: &mut [Mark],
        path: &mut Vec<usize>,
    ) -> Option<Cycle> {
        marks[call] = Mark::OnPath;
        path.push(call);
        for &dep in &deps[call] {
            match marks.get(dep).copied() {
                Some(Mark::OnPath) => {
                    let start = path.iter().position(|&c| c == dep).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(dep);
                    return Some(Cycle(cycle));
                }
                Some(Mark::New) => {
                    if let Some(cycle) = visit(dep, deps, marks, path) {
                        return Some(cycle);
                    }
                }
                Some(Mark::Done) | None => {}
            }
        }
        path.pop();
        marks[call] = Mark::Done;
        None
    }
    let mut marks = vec![Mark::New; dependencies.len()];
    (0..dependencies.len()).find_map(|call| match marks[call] {
        Mark::New => visit(call, dependencies, &mut marks, &mut Vec::new()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[&[usize]]) -> Result<CallGraph, Cycle> {
        CallGraph::build(
            edges
                .iter()
                .map(|deps| deps.iter().copied().collect())
                .collect(),
        )
    }

    #[test]
    fn order_details_graph_starts_order_and_payment_at_once() {
        // order, customer <- order, products <- order, payment
        let graph = graph(&[&[], &[0], &[0], &[]]).unwrap();
        assert_eq!(graph.roots().collect::<Vec<_>>(), [0, 3]);
        assert_eq!(graph.dependents[0], [1, 2]);
        assert_eq!(graph.order, [0, 1, 2, 3]);
    }

    #[test]
    fn topological_order_puts_dependencies_first() {
        let graph = graph(&[&[2], &[], &[1]]).unwrap();
        assert_eq!(graph.order, [1, 2, 0]);
    }

    #[test]
    fn cycles_are_found_with_their_path() {
        assert_eq!(
            graph(&[&[1], &[2], &[0]]).unwrap_err(),
            Cycle(vec![0, 1, 2, 0])
        );
        assert_eq!(graph(&[&[], &[1]]).unwrap_err(), Cycle(vec![1, 1]));
        assert_eq!(
            graph(&[&[], &[2], &[1], &[0]]).unwrap_err(),
            Cycle(vec![1, 2, 1])
        );
    }
}
