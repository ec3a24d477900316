//! The guarded selections of one prepared operation, found once when it
//! is prepared (on the planning pool) so that a request only checks
//! those against its caller.
//!
//! A field selected on type `S` whose named type is `T` is guarded by:
//! the field's own rule (`S.f`), `T`'s rule, `S`'s rule when `S` is a
//! root type, and, when `S` is an interface, the rules of every object
//! type implementing it and of their `f` (the planner may fetch the field
//! from any of them, so all must allow it, as Apollo Router requires). An
//! inline fragment is guarded by its type condition's rule.
//!
//! Selections are numbered in pre-order (every item of every selection
//! set, `__typename` included); [`super::filter`] walks in the same order.
//! The work is linear in the operation's size, which the protection
//! limits bound (`max_expanded_fields`).

use std::sync::Arc;

use hive_router_query_planner::ast::operation::OperationDefinition;
use hive_router_query_planner::ast::selection_item::SelectionItem;
use hive_router_query_planner::ast::selection_set::{
    FieldSelection, InlineFragmentSelection, SelectionSet,
};
use hive_router_query_planner::state::supergraph_state::{
    SupergraphDefinition, SupergraphState, TypeNode,
};
use serde_json::Value;

use super::rules::{AuthorizationRules, Requirement};

/// A `@skip(if: $v)` or `@include(if: $v)` on the way to a selection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    SkipIf(String),
    IncludeIf(String),
}

/// What projection answers with null (a field) or leaves out (a
/// fragment) when the selection is removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WithheldSelection {
    /// Response keys from the root to it (a fragment: to its parent field).
    pub keys: Vec<String>,
    /// The type it is selected on (a fragment: its type condition).
    pub on_type: String,
    /// The field's response key; `None` for a fragment.
    pub field: Option<String>,
}

/// One guarded selection.
#[derive(Clone, Debug)]
pub struct Guard {
    /// The selection's pre-order number in the normalized operation.
    pub selection: u32,
    /// The nearest guarded ancestor (its index among the guards).
    pub parent: Option<usize>,
    /// The `@skip` / `@include` variables from the root to it, its own included.
    pub conditions: Vec<Condition>,
    /// All must be met.
    pub requirements: Vec<Arc<Requirement>>,
    /// The error's `path`: response keys, `"@"` for the items of a list.
    pub error_path: Vec<Value>,
    pub withheld: WithheldSelection,
}

/// The guarded selections of an operation, in pre-order (a guard's
/// ancestors come before it).
#[derive(Clone, Debug, Default)]
pub struct OperationGuards {
    pub guards: Vec<Guard>,
}

impl OperationGuards {
    /// Finds the guarded selections of `operation`, whose root type is `root`.
    pub fn collect(
        rules: &AuthorizationRules,
        state: &SupergraphState,
        operation: &OperationDefinition,
        root: &str,
    ) -> OperationGuards {
        if rules.is_empty() {
            return OperationGuards::default();
        }
        let mut walk = Walk {
            rules,
            state,
            next: 0,
            guards: Vec::new(),
            error_path: Vec::new(),
            keys: Vec::new(),
            conditions: Vec::new(),
            parent: None,
        };
        walk.selection_set(&operation.selection_set, root, true);
        OperationGuards {
            guards: walk.guards,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.guards.is_empty()
    }
}

struct Walk<'a> {
    rules: &'a AuthorizationRules,
    state: &'a SupergraphState,
    next: u32,
    guards: Vec<Guard>,
    error_path: Vec<Value>,
    keys: Vec<String>,
    conditions: Vec<Condition>,
    parent: Option<usize>,
}

impl Walk<'_> {
    fn selection_set(&mut self, set: &SelectionSet, scope: &str, root: bool) {
        for item in &set.items {
            let number = self.next;
            self.next += 1;
            match item {
                SelectionItem::Field(field) => self.field(field, scope, root, number),
                SelectionItem::InlineFragment(fragment) => self.fragment(fragment, number),
                SelectionItem::FragmentSpread(_) => {}
            }
        }
    }

    fn field(&mut self, field: &FieldSelection, scope: &str, root: bool, number: u32) {
        if field.name.starts_with("__") {
            return;
        }
        let Some(field_type) = self.field_type(scope, &field.name) else {
            return;
        };
        let output = field_type.inner_type().to_owned();
        let requirements = self.field_requirements(scope, &field.name, &output, root);
        let key = field.selection_identifier().to_owned();
        let saved = (self.error_path.len(), self.conditions.len(), self.parent);
        self.error_path.push(Value::from(key.as_str()));
        self.conditions
            .extend(conditions(&field.skip_if, &field.include_if));
        if !requirements.is_empty() {
            let withheld = WithheldSelection {
                keys: self.keys.clone(),
                on_type: scope.to_owned(),
                field: Some(key.clone()),
            };
            self.guard(number, requirements, withheld);
        }
        self.error_path.extend(std::iter::repeat_n(
            Value::from("@"),
            list_depth(&field_type),
        ));
        self.keys.push(key);
        self.selection_set(&field.selections, &output, false);
        self.keys.pop();
        self.restore(saved);
    }

    fn fragment(&mut self, fragment: &InlineFragmentSelection, number: u32) {
        let saved = (self.error_path.len(), self.conditions.len(), self.parent);
        self.conditions
            .extend(conditions(&fragment.skip_if, &fragment.include_if));
        let condition = &fragment.type_condition;
        if let Some(requirement) = self.rules.of_type(condition) {
            let withheld = WithheldSelection {
                keys: self.keys.clone(),
                on_type: condition.clone(),
                field: None,
            };
            self.guard(number, vec![Arc::clone(requirement)], withheld);
        }
        self.selection_set(&fragment.selections, condition, false);
        self.restore(saved);
    }

    fn guard(
        &mut self,
        number: u32,
        requirements: Vec<Arc<Requirement>>,
        withheld: WithheldSelection,
    ) {
        self.guards.push(Guard {
            selection: number,
            parent: self.parent,
            conditions: self.conditions.clone(),
            requirements,
            error_path: self.error_path.clone(),
            withheld,
        });
        self.parent = Some(self.guards.len() - 1);
    }

    fn restore(&mut self, (path, conditions, parent): (usize, usize, Option<usize>)) {
        self.error_path.truncate(path);
        self.conditions.truncate(conditions);
        self.parent = parent;
    }

    fn field_type(&self, scope: &str, field: &str) -> Option<TypeNode> {
        let definition = self.state.definitions.get(scope)?;
        Some(definition.fields().get(field)?.field_type.clone())
    }

    /// Every rule selecting `scope.field` (of named type `output`) must meet.
    fn field_requirements(
        &self,
        scope: &str,
        field: &str,
        output: &str,
        root: bool,
    ) -> Vec<Arc<Requirement>> {
        let rules = self.rules;
        let mut found: Vec<&Arc<Requirement>> = Vec::new();
        if root {
            found.extend(rules.of_type(scope));
        }
        found.extend(rules.of_field(scope, field));
        found.extend(rules.of_type(output));
        if matches!(
            self.state.definitions.get(scope),
            Some(SupergraphDefinition::Interface(_))
        ) {
            for object in self
                .state
                .interface_to_object_types
                .get(scope)
                .into_iter()
                .flatten()
            {
                found.extend(rules.of_type(object));
                found.extend(rules.of_field(object, field));
            }
        }
        let mut unique: Vec<Arc<Requirement>> = Vec::with_capacity(found.len());
        for requirement in found {
            if !unique.iter().any(|r| Arc::ptr_eq(r, requirement)) {
                unique.push(Arc::clone(requirement));
            }
        }
        unique
    }
}

fn conditions(skip_if: &Option<String>, include_if: &Option<String>) -> Vec<Condition> {
    let skip = skip_if.iter().cloned().map(Condition::SkipIf);
    skip.chain(include_if.iter().cloned().map(Condition::IncludeIf))
        .collect()
}

/// How many list levels a type has (`[[T!]]!` has two).
fn list_depth(ty: &TypeNode) -> usize {
    match ty {
        TypeNode::Named(_) => 0,
        TypeNode::NonNull(inner) => list_depth(inner),
        TypeNode::List(inner) => 1 + list_depth(inner),
    }
}
