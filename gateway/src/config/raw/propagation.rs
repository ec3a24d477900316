//! Raw serde types of header propagation rules: the top-level
//! `propagate:` section and a composition call's `propagate:` list.

use serde::Deserialize;

use super::{OrderedPairs, Text};

/// `propagate:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPropagation {
    /// Every composition call and every subgraph request.
    #[serde(default)]
    pub all: Vec<RawHeaderRule>,
    /// By subgraph name, applied after `all`.
    #[serde(default)]
    pub subgraphs: OrderedPairs<Text, Vec<RawHeaderRule>>,
}

/// One rule: `propagate: {named, rename, default}`, `insert: {name,
/// value}` or `remove: {named}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RawHeaderRule {
    Propagate(RawPropagate),
    Insert(RawInsert),
    Remove(RawRemove),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPropagate {
    pub named: Text,
    pub rename: Option<Text>,
    pub default: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInsert {
    pub name: Text,
    pub value: Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRemove {
    pub named: Text,
}
