//! GraphQL authorization: the supergraph's `@authenticated` and
//! `@requiresScopes` enforced per request, as Apollo Router and Hive
//! Router do. The caller is the request's [`Principal`] (set by the
//! route's authentication layer; absent: unauthenticated).
//!
//! * [`rules`]: the supergraph's requirements, read once per supergraph.
//! * [`guards`]: the selections of a prepared operation that some rule
//!   guards, found once when the operation is prepared.
//! * Per request, [`unauthorized`] checks only those guards against the
//!   caller (and the `@skip` / `@include` variables). Nothing removed: the
//!   prepared plan serves. Otherwise the outcome (which guards failed) is
//!   the key of an [`AuthorizedVariant`] of the operation: planned once,
//!   on the planning pool, from the operation without those selections
//!   ([`filter`]), so they are never fetched; each becomes null with an
//!   `UNAUTHORIZED_FIELD` error, and null propagation follows the schema.
//!
//! A plan is cached by the text of the operation it was made for, and a
//! variant by its outcome, so a plan made for a more privileged caller is
//! never served to a less privileged one. A supergraph without either
//! directive has no rules and no guards: requests pay nothing.

pub mod filter;
pub mod guards;
pub mod rules;

use std::sync::Arc;

use arc_swap::ArcSwap;
use serde_json::{Map, Value};

pub use guards::{Condition, Guard, OperationGuards, WithheldSelection};
pub use rules::{AuthorizationRules, Requirement};

use super::error::GraphqlError;
use super::execute::variable_is_true;
use super::supergraph::CachedPlan;
use crate::context::Principal;

/// The error code of a removed field.
pub const UNAUTHORIZED_FIELD: &str = "UNAUTHORIZED_FIELD";

/// At most this many variants are kept per operation (the oldest goes);
/// a caller population has few distinct outcomes (anonymous, signed in,
/// with this or that scope).
const MAX_VARIANTS: usize = 16;

/// An operation as one authorisation outcome allows it.
#[derive(Debug)]
pub struct AuthorizedVariant {
    /// The failed guards (indices, ascending): the variant's key.
    pub removed: Box<[usize]>,
    /// The plan without the removed selections; `None` when no root field
    /// is left (nothing is fetched).
    pub plan: Option<CachedPlan>,
    /// One `UNAUTHORIZED_FIELD` error per removed selection.
    pub errors: Vec<GraphqlError>,
    /// What projection answers with null (or leaves out).
    pub withheld: Vec<WithheldSelection>,
}

impl AuthorizedVariant {
    /// The errors and withheld selections of `removed` (the plan is the
    /// caller's to make).
    pub fn describe(
        guards: &OperationGuards,
        removed: &[usize],
    ) -> (Vec<GraphqlError>, Vec<WithheldSelection>) {
        removed
            .iter()
            .filter_map(|index| guards.guards.get(*index))
            .map(|guard| {
                let error = GraphqlError::new(UNAUTHORIZED_FIELD, "Unauthorized field or type")
                    .at(guard.error_path.clone());
                (error, guard.withheld.clone())
            })
            .unzip()
    }
}

/// The variants of one prepared operation made so far. Read without a
/// lock on the serving path; written on the planning pool.
#[derive(Debug, Default)]
pub struct AuthorizedVariants(ArcSwap<Vec<Arc<AuthorizedVariant>>>);

impl AuthorizedVariants {
    /// The variant of this outcome, if made already.
    pub fn get(&self, removed: &[usize]) -> Option<Arc<AuthorizedVariant>> {
        self.0
            .load()
            .iter()
            .find(|variant| *variant.removed == *removed)
            .cloned()
    }

    /// Keeps `variant` (replacing one of the same outcome; the oldest goes
    /// past [`MAX_VARIANTS`]).
    pub fn insert(&self, variant: Arc<AuthorizedVariant>) {
        self.0.rcu(|current| {
            let mut next: Vec<Arc<AuthorizedVariant>> = current
                .iter()
                .filter(|v| v.removed != variant.removed)
                .cloned()
                .collect();
            if next.len() >= MAX_VARIANTS {
                next.remove(0);
            }
            next.push(Arc::clone(&variant));
            next
        });
    }

    pub fn len(&self) -> usize {
        self.0.load().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The guards `principal` fails, in pre-order. A guard under a failed one
/// is not listed (its ancestor is removed whole), nor one that `@skip` /
/// `@include` leaves out of this request.
pub fn unauthorized(
    guards: &OperationGuards,
    principal: Option<&Principal>,
    variables: &Map<String, Value>,
) -> Vec<usize> {
    let mut removed = Vec::new();
    let mut gone = vec![false; guards.guards.len()];
    for (index, guard) in guards.guards.iter().enumerate() {
        if guard.parent.is_some_and(|parent| gone[parent]) {
            gone[index] = true;
            continue;
        }
        if !applies(&guard.conditions, variables) {
            continue;
        }
        if !guard.requirements.iter().all(|r| r.is_met_by(principal)) {
            removed.push(index);
            gone[index] = true;
        }
    }
    removed
}

/// Whether the selection is part of this request.
fn applies(conditions: &[Condition], variables: &Map<String, Value>) -> bool {
    conditions.iter().all(|condition| match condition {
        Condition::SkipIf(name) => !variable_is_true(variables, name),
        Condition::IncludeIf(name) => variable_is_true(variables, name),
    })
}

#[cfg(test)]
mod tests;
