//! The supergraph's authorization rules, read once per supergraph: the
//! `@authenticated` and `@requiresScopes` of object types, interfaces,
//! scalars, enums and their fields, as the query planner's supergraph
//! state carries them (it reads them only when the supergraph links
//! `authenticated/v0.1` / `requiresScopes/v0.1`, as the specs say).

use std::collections::HashMap;
use std::sync::Arc;

use hive_router_query_planner::ast::value::Value as PlannerValue;
use hive_router_query_planner::federation_spec::authorization::{
    AuthenticatedDirective, RequiresScopesDirective,
};
use hive_router_query_planner::state::supergraph_state::{SupergraphDefinition, SupergraphState};

use crate::context::Principal;

/// What one element asks of the caller.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Requirement {
    /// `@authenticated`: any verified caller.
    pub authenticated: bool,
    /// `@requiresScopes`: alternatives (OR), each a set of scopes the
    /// caller must all hold (AND). Empty: no scope is required.
    pub scopes: Vec<Vec<Arc<str>>>,
}

impl Requirement {
    /// Whether `principal` (`None`: an unauthenticated caller) meets it.
    /// Any requirement needs an authenticated caller; `@requiresScopes`
    /// needs one of its alternatives in full.
    pub fn is_met_by(&self, principal: Option<&Principal>) -> bool {
        let Some(principal) = principal else {
            return false;
        };
        self.scopes.is_empty()
            || self
                .scopes
                .iter()
                .any(|all| principal.has_scopes(all.iter().map(|s| &**s)))
    }

    fn from_directives(
        authenticated: &[AuthenticatedDirective],
        requires_scopes: &[RequiresScopesDirective],
    ) -> Option<Requirement> {
        if authenticated.is_empty() && requires_scopes.is_empty() {
            return None;
        }
        let mut scopes = Vec::new();
        for directive in requires_scopes {
            scopes = and(scopes, scope_lists(&directive.scopes));
        }
        Some(Requirement {
            authenticated: !authenticated.is_empty(),
            scopes,
        })
    }
}

/// The requirements of one supergraph, by type and by field.
#[derive(Debug, Default)]
pub struct AuthorizationRules {
    types: HashMap<String, Arc<Requirement>>,
    fields: HashMap<String, HashMap<String, Arc<Requirement>>>,
}

impl AuthorizationRules {
    /// Reads them from the planner's supergraph state.
    pub fn from_supergraph(state: &SupergraphState) -> Self {
        let mut rules = AuthorizationRules::default();
        for (name, definition) in &state.definitions {
            let (own, fields) = match definition {
                SupergraphDefinition::Object(t) => (
                    Requirement::from_directives(&t.authenticated, &t.requires_scopes),
                    Some(&t.fields),
                ),
                SupergraphDefinition::Interface(t) => (
                    Requirement::from_directives(&t.authenticated, &t.requires_scopes),
                    Some(&t.fields),
                ),
                SupergraphDefinition::Scalar(t) => (
                    Requirement::from_directives(&t.authenticated, &t.requires_scopes),
                    None,
                ),
                SupergraphDefinition::Enum(t) => (
                    Requirement::from_directives(&t.authenticated, &t.requires_scopes),
                    None,
                ),
                SupergraphDefinition::Union(_) | SupergraphDefinition::InputObject(_) => {
                    (None, None)
                }
            };
            if let Some(requirement) = own {
                rules.types.insert(name.clone(), Arc::new(requirement));
            }
            for (field_name, field) in fields.into_iter().flatten() {
                let requirement =
                    Requirement::from_directives(&field.authenticated, &field.requires_scopes);
                if let Some(requirement) = requirement {
                    rules
                        .fields
                        .entry(name.clone())
                        .or_default()
                        .insert(field_name.clone(), Arc::new(requirement));
                }
            }
        }
        rules
    }

    /// Whether the supergraph has no authorization directive at all (then
    /// nothing is checked per request).
    pub fn is_empty(&self) -> bool {
        self.types.is_empty() && self.fields.is_empty()
    }

    /// The requirement of a type.
    pub fn of_type(&self, name: &str) -> Option<&Arc<Requirement>> {
        self.types.get(name)
    }

    /// The requirement of a field.
    pub fn of_field(&self, type_name: &str, field: &str) -> Option<&Arc<Requirement>> {
        self.fields.get(type_name)?.get(field)
    }
}

/// `[["a", "b"], ["c"]]` (the planner's value of `scopes`) as lists.
fn scope_lists(value: &PlannerValue) -> Vec<Vec<Arc<str>>> {
    let PlannerValue::List(groups) = value else {
        return Vec::new();
    };
    groups
        .iter()
        .filter_map(|group| match group {
            PlannerValue::List(scopes) => Some(
                scopes
                    .iter()
                    .filter_map(|scope| match scope {
                        PlannerValue::String(s) => Some(Arc::from(s.as_str())),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// Two `@requiresScopes` on one element: both must hold.
fn and(left: Vec<Vec<Arc<str>>>, right: Vec<Vec<Arc<str>>>) -> Vec<Vec<Arc<str>>> {
    if left.is_empty() {
        return right;
    }
    let mut out = Vec::new();
    for a in &left {
        for b in &right {
            let mut group = a.clone();
            group.extend(b.iter().filter(|s| !a.contains(s)).cloned());
            out.push(group);
        }
    }
    out
}
