//! The caches of one supergraph, both sized in bytes (moka weighers over
//! an estimate of each entry's memory):
//!
//! * **operations**: the request's document text and operation name →
//!   the parsed, checked, validated and normalized operation with its
//!   plan. A hit skips every expensive step, so it is served on the
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

/// The operation cache's key: the operation name and the document text,
/// in one string compared whole (the cache hashes it). It was a SHA-256
/// of the text: about 14,000 instructions per request for a 300-byte
/// document, 5% of a four-subgraph request, where copying the text costs
/// a few hundred and the cache's hash a few hundred more.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct OperationKey(Box<str>);

impl OperationKey {
    /// The bytes the key holds (its share of the cache's weight).
    pub fn bytes(&self) -> usize {
        self.0.len()
    }
}

/// The name's length comes first (`-` without a name), so two different
/// (name, document) pairs never make the same key.
pub fn operation_key(query: &str, operation_name: Option<&str>) -> OperationKey {
    let mut key = String::with_capacity(query.len() + operation_name.map_or(1, |n| n.len() + 8));
    match operation_name {
        Some(name) => {
            key.push_str(itoa::Buffer::new().format(name.len()));
            key.push(':');
            key.push_str(name);
        }
        None => key.push('-'),
    }
    key.push_str(query);
    OperationKey(key.into_boxed_str())
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
                let key = u32::try_from(key.bytes()).unwrap_or(u32::MAX);
                value.weight.saturating_add(key)
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

#[cfg(test)]
mod tests {
    use super::operation_key;

    #[test]
    fn keys_differ_whenever_the_name_or_the_document_does() {
        let pairs = [
            ("{ a }", None),
            ("{ a }", Some("")),
            ("{ a }", Some("Q")),
            ("Q{ a }", None),
            ("{ a }", Some("Q{")),
            ("a }", Some("Q{ ")),
            ("-{ a }", None),
            ("1:Q{ a }", None),
        ];
        for (i, (query, name)) in pairs.iter().enumerate() {
            for (j, (other_query, other_name)) in pairs.iter().enumerate() {
                let same = operation_key(query, *name) == operation_key(other_query, *other_name);
                assert_eq!(
                    same,
                    i == j,
                    "{query:?} {name:?} vs {other_query:?} {other_name:?}"
                );
            }
        }
    }
}
