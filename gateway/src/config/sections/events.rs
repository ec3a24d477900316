//! The `events:` section, read piece by piece: the store, each topic and
//! each subscription go through serde alone, so every mistake in the
//! section is reported in one pass. Also the `async: true` shorthand of
//! routes.

use std::borrow::Cow;

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use marked_yaml::{Node, Spanned};

use super::super::errors::{Diagnostics, did_you_mean};
use super::super::raw::Text;
use super::super::raw_events::{RawEvents, RawSubscription, RawTopic};
use super::{deserialize, is_empty_scalar};

/// The keys of `events:`.
const KEYS: &[&str] = &["store", "topics", "subscriptions"];

/// Reads `events:`; a blank section is every default (the embedded store,
/// no topics). `None` when it is not a mapping (recorded).
pub(super) fn read_events(node: &Node, diag: &mut Diagnostics) -> Option<RawEvents> {
    let mut events = RawEvents {
        store: None,
        topics: Vec::new(),
        subscriptions: Vec::new(),
    };
    if is_empty_scalar(node) {
        return Some(events);
    }
    let Some(mapping) = node.as_mapping() else {
        diag.error(
            node.span(),
            "events: expected a mapping with store, topics and subscriptions",
        );
        return None;
    };
    for (key, value) in mapping.iter() {
        match key.as_str() {
            "store" => events.store = deserialize(value, "events.store", diag),
            "topics" => events.topics = read_topics(value, diag),
            "subscriptions" => events.subscriptions = read_subscriptions(value, diag),
            other => diag.error(
                key.span(),
                format!(
                    "events: unknown key \"{other}\"{}; expected one of: {}",
                    did_you_mean(other, KEYS.iter().copied()),
                    KEYS.join(", ")
                ),
            ),
        }
    }
    Some(events)
}

fn read_topics(node: &Node, diag: &mut Diagnostics) -> Vec<(Text, Option<RawTopic>)> {
    let Some(mapping) = node.as_mapping() else {
        if !is_empty_scalar(node) {
            diag.error(
                node.span(),
                "events.topics: expected a mapping of topic names to their settings",
            );
        }
        return Vec::new();
    };
    mapping
        .iter()
        .map(|(name, value)| {
            let name_text = Spanned::new(*name.span(), name.as_str().to_owned());
            // `orders:` with nothing after it takes every default.
            let topic = if is_empty_scalar(value) {
                Some(Default::default())
            } else {
                deserialize(value, &format!("topic \"{}\"", name.as_str()), diag)
            };
            (name_text, topic)
        })
        .collect()
}

fn read_subscriptions(node: &Node, diag: &mut Diagnostics) -> Vec<RawSubscription> {
    let Some(sequence) = node.as_sequence() else {
        if !is_empty_scalar(node) {
            diag.error(
                node.span(),
                "events.subscriptions: expected a list of subscriptions (each item starts with `- `)",
            );
        }
        return Vec::new();
    };
    sequence
        .iter()
        .enumerate()
        .filter_map(|(index, item)| deserialize(item, &subscription_label(item, index), diag))
        .collect()
}

/// `subscription "NAME"`, else `subscription #N` (1-based).
fn subscription_label(node: &Node, index: usize) -> String {
    match node.as_mapping().and_then(|m| m.get_scalar("name")) {
        Some(name) => format!("subscription \"{}\"", name.as_str()),
        None => format!("subscription #{}", index + 1),
    }
}

/// A route's `async: true` is `async: {}` (every default), and
/// `async: false` is no `async:` at all.
pub(super) fn async_flag_as_mapping(route: &Node) -> Cow<'_, Node> {
    let flag = route
        .as_mapping()
        .and_then(|mapping| mapping.get_scalar("async"))
        .and_then(|value| match value.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        });
    let Some(flag) = flag else {
        return Cow::Borrowed(route);
    };
    let mut route = route.clone();
    if let Some(mapping) = route.as_mapping_mut() {
        let key = MarkedScalarNode::new(marked_yaml::Span::new_blank(), "async");
        if flag {
            if let Some(value) = mapping.get_mut(&key) {
                *value = Node::from(MarkedMappingNode::new_empty(*value.span()));
            }
        } else {
            mapping.remove(&key);
        }
    }
    Cow::Owned(route)
}
