//! `events.subscriptions:`: each names a compiled topic and backend;
//! names are unique.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use marked_yaml::Span;

use super::super::super::errors::{Diagnostics, did_you_mean};
use super::super::super::model::BackendSpec;
use super::super::super::model::events::{DeliveryMode, StartFrom, SubscriptionSpec, TopicSpec};
use super::super::super::raw::Text;
use super::super::super::raw_events::{RawDeliveryMode, RawOrdering, RawStart, RawSubscription};
use super::super::positive_duration;
use super::{TopicScope, attempts, backoff, check_name};

/// Compiles every subscription; one with errors is left out.
pub(super) fn compile_subscriptions(
    raw: &[RawSubscription],
    topics: TopicScope<'_>,
    backends: (&BTreeMap<String, Arc<BackendSpec>>, &BTreeSet<&str>),
    diag: &mut Diagnostics,
) -> Vec<Arc<SubscriptionSpec>> {
    check_unique_names(raw, diag);
    raw.iter()
        .filter_map(|subscription| compile_one(subscription, topics, backends, diag))
        .map(Arc::new)
        .collect()
}

fn check_unique_names(raw: &[RawSubscription], diag: &mut Diagnostics) {
    let mut first_seen: HashMap<&str, &Span> = HashMap::new();
    for name in raw.iter().map(|subscription| &subscription.name) {
        if let Some(first) = first_seen.get(name.as_str()) {
            let line = first.start().map_or(0, |mark| mark.line());
            diag.error(
                name.span(),
                format!(
                    "subscription name \"{}\" is already used on line {line}",
                    name.as_str()
                ),
            );
        } else {
            first_seen.insert(name.as_str(), name.span());
        }
    }
}

fn compile_one(
    raw: &RawSubscription,
    topics: TopicScope<'_>,
    backends: (&BTreeMap<String, Arc<BackendSpec>>, &BTreeSet<&str>),
    diag: &mut Diagnostics,
) -> Option<SubscriptionSpec> {
    let errors_before = diag.error_count();
    let what = format!("subscription \"{}\"", raw.name.as_str());
    check_name(&raw.name, "subscription", diag);
    let topic = resolve_topic(&raw.topic, topics, &what, diag);
    let backend = resolve_backend(&raw.backend, backends, &what, diag);
    check_path(&raw.path, &what, diag);
    let types = event_types(raw.types.as_deref(), &what, diag);
    let backoff = backoff(
        raw.backoff.as_ref(),
        SubscriptionSpec::DEFAULT_BACKOFF,
        &what,
        diag,
    );
    let max_attempts = attempts(
        raw.max_attempts.as_ref(),
        SubscriptionSpec::DEFAULT_MAX_ATTEMPTS,
        SubscriptionSpec::MAX_ATTEMPTS,
        &what,
        diag,
    );
    let timeout = positive_duration(raw.timeout.as_ref(), &format!("{what}: timeout"), diag)
        .unwrap_or(SubscriptionSpec::DEFAULT_TIMEOUT);
    let max_in_flight = max_in_flight(raw, &what, diag);
    if diag.error_count() > errors_before {
        return None;
    }
    Some(SubscriptionSpec {
        name: raw.name.to_string(),
        topic: topic?,
        backend: backend?,
        path: raw.path.to_string(),
        mode: match raw.mode.as_deref() {
            Some(RawDeliveryMode::Queue) => DeliveryMode::Queue,
            Some(RawDeliveryMode::Fanout) | None => DeliveryMode::Fanout,
        },
        types,
        backoff,
        max_attempts,
        timeout,
        max_in_flight,
        ordered_by_subject: raw.ordering.as_deref() == Some(&RawOrdering::Subject),
        start: match raw.start.as_deref() {
            Some(RawStart::Earliest) => StartFrom::Earliest,
            Some(RawStart::New) | None => StartFrom::New,
        },
    })
}

/// Resolves a topic name written in a subscription or a route.
pub(in crate::config::compile) fn resolve_topic(
    name: &Text,
    topics: TopicScope<'_>,
    what: &str,
    diag: &mut Diagnostics,
) -> Option<Arc<TopicSpec>> {
    if !topics.declared {
        diag.error(
            name.span(),
            format!(
                "{what}: topic \"{}\" is not declared: add it under `events.topics`",
                name.as_str()
            ),
        );
        return None;
    }
    if let Some(topic) = topics.topics.and_then(|topics| topics.get(name.as_str())) {
        return Some(Arc::clone(topic));
    }
    if !topics.names.contains(name.as_str()) {
        let suggestion = did_you_mean(name, topics.names.iter().copied());
        let known = if topics.names.is_empty() {
            "events.topics declares none".to_owned()
        } else {
            format!(
                "declared: {}",
                topics.names.iter().copied().collect::<Vec<_>>().join(", ")
            )
        };
        diag.error(
            name.span(),
            format!(
                "{what} names unknown topic \"{}\"{suggestion} ({known})",
                name.as_str()
            ),
        );
    }
    None
}

fn resolve_backend(
    name: &Text,
    (backends, declared): (&BTreeMap<String, Arc<BackendSpec>>, &BTreeSet<&str>),
    what: &str,
    diag: &mut Diagnostics,
) -> Option<Arc<BackendSpec>> {
    if let Some(backend) = backends.get(name.as_str()) {
        return Some(Arc::clone(backend));
    }
    if !declared.contains(name.as_str()) {
        let suggestion = did_you_mean(name, declared.iter().copied());
        diag.error(
            name.span(),
            format!(
                "{what} names unknown backend \"{}\"{suggestion}",
                name.as_str()
            ),
        );
    }
    None
}

fn check_path(path: &Text, what: &str, diag: &mut Diagnostics) {
    let valid = path.starts_with('/')
        && path
            .parse::<http::uri::PathAndQuery>()
            .is_ok_and(|parsed| parsed.as_str() == path.as_str());
    if !valid {
        diag.error(
            path.span(),
            format!(
                "{what}: path \"{}\" must be a URL path starting with \"/\"",
                path.as_str()
            ),
        );
    }
}

fn event_types(types: Option<&[Text]>, what: &str, diag: &mut Diagnostics) -> Vec<String> {
    let Some(types) = types else {
        return Vec::new();
    };
    for event_type in types.iter().filter(|t| t.trim().is_empty()) {
        diag.error(
            event_type.span(),
            format!("{what}: types: an event type must not be empty"),
        );
    }
    types.iter().map(|t| t.to_string()).collect()
}

fn max_in_flight(raw: &RawSubscription, what: &str, diag: &mut Diagnostics) -> usize {
    let Some(value) = &raw.max_in_flight else {
        return SubscriptionSpec::DEFAULT_MAX_IN_FLIGHT;
    };
    let max = SubscriptionSpec::MAX_IN_FLIGHT;
    match usize::try_from(**value) {
        Ok(count) if (1..=max).contains(&count) => count,
        _ => {
            diag.error(
                value.span(),
                format!("{what}: max_in_flight must be between 1 and {max}"),
            );
            SubscriptionSpec::DEFAULT_MAX_IN_FLIGHT
        }
    }
}
