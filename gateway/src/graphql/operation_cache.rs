//! The caches of one supergraph, both sized in bytes (moka weighers over
//! an estimate of each entry's memory):
//!
//! * **operations**: the request's document text (SHA-256) and operation
//!   name → the parsed, checked, validated and normalized operation with
//!   its plan. A hit skips every expensive step, so it is served on the
//!   worker thread without touching the planning pool.
//! * **plans**: the normalized operation's text and name → its plan, so
//!   documents that differ only in layout, fragments or variable values
//!   share one plan.
//!
//! Each operation entry counts its hits; on a supergraph reload the
//! hottest operations of the old cache are prepared again against the new
//! supergraph before it is swapped in (cache warm-up, as Apollo Router
//! does).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use graphql_tools::parser::query::Document;
use hive_router_query_planner::ast::document::NormalizedDocument;
use hive_router_query_planner::state::supergraph_state::OperationKind;
use sha2::{Digest, Sha256};

use super::authorization::{AuthorizedVariants, OperationGuards};
use super::supergraph::CachedPlan;
pub use crate::config::model::CacheSettings;

/// An operation ready to execute with any variables.
pub struct PreparedDocument {
    pub kind: OperationKind,
    pub normalized: NormalizedDocument,
    /// The plan of the whole operation, for a caller every field allows
    /// (`PreparedOperation::plan` picks the caller's). `None` for
    /// introspection-only operations, which the gateway answers.
    pub full_plan: Option<CachedPlan>,
    /// The selections `@authenticated` / `@requiresScopes` guard (none on
    /// a supergraph without them).
    pub guards: OperationGuards,
    /// The plans made for callers some guard refused, by outcome.
    pub authorized: AuthorizedVariants,
    /// Whether the operation selects only `__schema`, `__type` or `__typename`.
    pub introspection_only: bool,
    pub document: Document<'static, String>,
    /// The request's text and operation name (for warm-up).
    pub query: Arc<str>,
    pub operation_name: Option<String>,
    /// Estimated memory, in bytes.
    pub weight: u32,
    /// Cache hits so far (for warm-up); start at zero.
    pub hits: AtomicU64,
    /// Whether its plan came from the plan cache (`None`: no plan).
    pub plan_cache_hit: Option<bool>,
}

impl PreparedDocument {
    /// The estimated memory of an entry: the AST and the normalized tree
    /// take a few times their text.
    pub fn estimate_weight(query_len: usize, normalized_text_len: usize, guards: usize) -> u32 {
        let estimate = query_len * 6 + normalized_text_len * 6 + guards * 256 + 1024;
        u32::try_from(estimate).unwrap_or(u32::MAX)
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

/// The operation cache's key.
pub type OperationKey = ([u8; 32], Option<String>);

pub fn operation_key(query: &str, operation_name: Option<&str>) -> OperationKey {
    (
        Sha256::digest(query.as_bytes()).into(),
        operation_name.map(str::to_owned),
    )
}

/// The plan cache's key: the normalized operation's text and name.
pub type PlanKey = (String, Option<String>);

/// A plan with its estimated size.
#[derive(Clone)]
pub struct WeighedPlan {
    pub plan: CachedPlan,
    pub weight: u32,
}

impl WeighedPlan {
    pub fn new(plan: CachedPlan) -> Self {
        let serialized = serde_json::to_vec(plan.as_ref()).map_or(4096, |bytes| bytes.len());
        WeighedPlan {
            plan,
            weight: u32::try_from(serialized * 3 + 256).unwrap_or(u32::MAX),
        }
    }
}

/// Both caches of one supergraph.
pub struct OperationCaches {
    pub operations: moka::sync::Cache<OperationKey, Arc<PreparedDocument>>,
    pub plans: moka::sync::Cache<PlanKey, WeighedPlan>,
}

impl OperationCaches {
    pub fn new(settings: &CacheSettings) -> Self {
        let operations = moka::sync::Cache::builder()
            .max_capacity(settings.operations_bytes)
            .weigher(|key: &OperationKey, value: &Arc<PreparedDocument>| {
                value
                    .weight
                    .saturating_add(key.1.as_ref().map_or(0, |n| n.len() as u32))
            })
            .build();
        let plans = moka::sync::Cache::builder()
            .max_capacity(settings.plans_bytes)
            .weigher(|key: &PlanKey, value: &WeighedPlan| {
                value.weight.saturating_add(key.0.len() as u32)
            })
            .build();
        OperationCaches { operations, plans }
    }

    /// A cached operation, counting the hit.
    pub fn operation(&self, key: &OperationKey) -> Option<Arc<PreparedDocument>> {
        let hit = self.operations.get(key)?;
        hit.hits.fetch_add(1, Ordering::Relaxed);
        Some(hit)
    }

    /// The `limit` most used operations, most used first.
    pub fn hottest(&self, limit: usize) -> Vec<(Arc<str>, Option<String>)> {
        let mut entries: Vec<Arc<PreparedDocument>> =
            self.operations.iter().map(|(_, value)| value).collect();
        entries.sort_by_key(|entry| std::cmp::Reverse(entry.hits()));
        entries
            .into_iter()
            .take(limit)
            .map(|entry| (Arc::clone(&entry.query), entry.operation_name.clone()))
            .collect()
    }
}

impl Default for OperationCaches {
    fn default() -> Self {
        OperationCaches::new(&CacheSettings::default())
    }
}
