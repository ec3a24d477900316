//! The operation without its unauthorised selections: what is planned,
//! so the removed fields are never fetched. Selections are numbered in
//! the same pre-order as [`super::guards`]; a selection set left empty
//! keeps `__typename` (so the operation stays valid and its parent is
//! still fetched, to be projected with nulls).

use std::collections::HashSet;

use hive_router_query_planner::ast::operation::OperationDefinition;
use hive_router_query_planner::ast::selection_item::SelectionItem;
use hive_router_query_planner::ast::selection_set::{FieldSelection, SelectionSet};

/// `operation` without the selections numbered in `removed`; `None` when
/// no root field is left (nothing to plan or fetch).
pub fn without_selections(
    operation: &OperationDefinition,
    removed: &HashSet<u32>,
) -> Option<OperationDefinition> {
    let mut next = 0;
    let selection_set = filter_set(&operation.selection_set, removed, &mut next);
    let has_root_field = selection_set.items.iter().any(|item| match item {
        SelectionItem::Field(field) => field.name != "__typename",
        _ => true,
    });
    has_root_field.then(|| OperationDefinition {
        selection_set,
        ..operation.clone()
    })
}

fn filter_set(set: &SelectionSet, removed: &HashSet<u32>, next: &mut u32) -> SelectionSet {
    let mut items = Vec::with_capacity(set.items.len());
    for item in &set.items {
        let number = *next;
        *next += 1;
        let kept = !removed.contains(&number);
        // Numbering continues through removed selections, so their
        // descendants are counted as the guards counted them.
        let filtered = match item {
            SelectionItem::Field(field) => {
                let selections = filter_set(&field.selections, removed, next);
                SelectionItem::Field(
                    field.with_new_selections(non_empty(selections, &field.selections)),
                )
            }
            SelectionItem::InlineFragment(fragment) => {
                let selections = filter_set(&fragment.selections, removed, next);
                let mut fragment = fragment.clone();
                fragment.selections = non_empty(selections, &fragment.selections);
                SelectionItem::InlineFragment(fragment)
            }
            SelectionItem::FragmentSpread(name) => SelectionItem::FragmentSpread(name.clone()),
        };
        if kept {
            items.push(filtered);
        }
    }
    SelectionSet { items }
}

/// A selection set that lost every item keeps `__typename`; one that
/// was empty (a leaf) stays empty.
fn non_empty(filtered: SelectionSet, original: &SelectionSet) -> SelectionSet {
    if filtered.items.is_empty() && !original.items.is_empty() {
        SelectionSet {
            items: vec![SelectionItem::Field(FieldSelection::new_typename())],
        }
    } else {
        filtered
    }
}
