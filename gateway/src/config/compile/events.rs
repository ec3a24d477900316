//! The `events:` section: the store, the topics and the subscriptions
//! (`events/subscriptions.rs`). A route's `publish:`, `emit:` and
//! `async:` are compiled in `events/route_keys.rs` against the topics
//! compiled here.

mod route_keys;
mod subscriptions;

pub(super) use route_keys::{PUBLISH_METHODS, compile_async, compile_emit, compile_publish};

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::super::errors::Diagnostics;
use super::super::model::BackendSpec;
use super::super::model::events::{
    EmbeddedStore, EventsSettings, NatsStore, StoreSettings, TopicSpec,
};
use super::super::raw::Text;
use super::super::raw_events::{RawEvents, RawStore, RawStoreKind, RawTopic};
use super::{duration, positive_duration, size};

/// What routes need to know of the section.
#[derive(Debug, Clone, Copy)]
pub(super) struct TopicScope<'a> {
    /// The file has an `events:` section.
    pub declared: bool,
    /// The topics that compiled.
    pub topics: Option<&'a BTreeMap<String, Arc<TopicSpec>>>,
    /// Every topic name written, including those with errors (a reference
    /// to one of those is not reported again).
    pub names: &'a BTreeSet<&'a str>,
}

/// Compiles `events:`; `None` when it is absent. Relative directories are
/// taken from `base_dir` (the config file's directory).
pub(super) fn compile_events(
    raw: Option<&RawEvents>,
    backends: (&BTreeMap<String, Arc<BackendSpec>>, &BTreeSet<&str>),
    base_dir: &Path,
    diag: &mut Diagnostics,
) -> Option<EventsSettings> {
    let raw = raw?;
    let store = compile_store(raw.store.as_ref(), base_dir, diag);
    let topics: BTreeMap<String, Arc<TopicSpec>> = raw
        .topics
        .iter()
        .filter_map(|(name, topic)| {
            let topic = compile_topic(name, topic.as_ref()?, diag)?;
            Some((topic.name.clone(), Arc::new(topic)))
        })
        .collect();
    let names: BTreeSet<&str> = raw.topics.iter().map(|(name, _)| name.as_str()).collect();
    let scope = TopicScope {
        declared: true,
        topics: Some(&topics),
        names: &names,
    };
    let subscriptions =
        subscriptions::compile_subscriptions(&raw.subscriptions, scope, backends, diag);
    Some(EventsSettings {
        store,
        topics,
        subscriptions,
    })
}

/// Names of topics and subscriptions: they name files, JetStream streams
/// and consumers, and metric labels.
pub(super) fn check_name(name: &Text, what: &str, diag: &mut Diagnostics) -> bool {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        diag.error(
            name.span(),
            format!(
                "{what} name \"{}\" must be 1 to 64 letters, digits, `-` or `_`",
                name.as_str()
            ),
        );
    }
    valid
}

fn compile_store(raw: Option<&RawStore>, base_dir: &Path, diag: &mut Diagnostics) -> StoreSettings {
    let kind = raw
        .and_then(|store| store.kind.as_ref())
        .map_or(RawStoreKind::Embedded, |kind| **kind);
    let Some(raw) = raw else {
        return StoreSettings::Embedded(EmbeddedStore {
            data_dir: base_dir.join(EmbeddedStore::DEFAULT_DATA_DIR),
            commit_window: EmbeddedStore::DEFAULT_COMMIT_WINDOW,
        });
    };
    refuse_other_kind_keys(raw, kind, diag);
    match kind {
        RawStoreKind::Embedded => StoreSettings::Embedded(embedded_store(raw, base_dir, diag)),
        RawStoreKind::Nats => StoreSettings::Nats(nats_store(raw, base_dir, diag)),
    }
}

fn embedded_store(raw: &RawStore, base_dir: &Path, diag: &mut Diagnostics) -> EmbeddedStore {
    let commit_window = duration(
        raw.commit_window.as_ref(),
        "events.store.commit_window",
        diag,
    )
    .unwrap_or(EmbeddedStore::DEFAULT_COMMIT_WINDOW);
    if commit_window > EmbeddedStore::MAX_COMMIT_WINDOW
        && let Some(text) = &raw.commit_window
    {
        diag.error(
            text.span(),
            format!(
                "events.store.commit_window: at most {:?} (each publish may wait this long for its ack)",
                EmbeddedStore::MAX_COMMIT_WINDOW
            ),
        );
    }
    EmbeddedStore {
        data_dir: directory(
            raw.data_dir.as_ref(),
            EmbeddedStore::DEFAULT_DATA_DIR,
            base_dir,
            "data_dir",
            diag,
        ),
        commit_window,
    }
}

fn nats_store(raw: &RawStore, base_dir: &Path, diag: &mut Diagnostics) -> NatsStore {
    let urls: Vec<&Text> = match (&raw.url, &raw.urls) {
        (Some(url), None) => vec![url],
        (None, Some(urls)) if !urls.is_empty() => urls.iter().collect(),
        (Some(_), Some(urls)) => {
            diag.error(
                urls.span(),
                "events.store: set either url or urls, not both",
            );
            Vec::new()
        }
        (None, Some(urls)) => {
            diag.error(urls.span(), "events.store.urls: list at least one URL");
            Vec::new()
        }
        (None, None) => {
            let at = raw.kind.as_ref().map(|kind| *kind.span());
            diag.error(
                &at.unwrap_or_else(marked_yaml::Span::new_blank),
                "events.store: `kind: nats` needs `url` (or `urls`), such as nats://127.0.0.1:4222",
            );
            Vec::new()
        }
    };
    let urls = urls
        .into_iter()
        .filter(|url| nats_url(url, diag))
        .map(|url| url.to_string())
        .collect();
    let stream_prefix = raw
        .stream_prefix
        .as_ref()
        .filter(|prefix| check_name(prefix, "events.store.stream_prefix", diag))
        .map_or_else(
            || NatsStore::DEFAULT_STREAM_PREFIX.to_owned(),
            |p| p.to_string(),
        );
    NatsStore {
        urls,
        stream_prefix,
        request_timeout: positive_duration(
            raw.request_timeout.as_ref(),
            "events.store.request_timeout",
            diag,
        )
        .unwrap_or(NatsStore::DEFAULT_REQUEST_TIMEOUT),
        outbox_dir: directory(
            raw.outbox_dir.as_ref(),
            NatsStore::DEFAULT_OUTBOX_DIR,
            base_dir,
            "outbox_dir",
            diag,
        ),
    }
}

fn nats_url(url: &Text, diag: &mut Diagnostics) -> bool {
    let parsed = url.parse::<http::Uri>().ok();
    let valid = parsed.as_ref().is_some_and(|uri| {
        matches!(uri.scheme_str(), Some("nats" | "tls")) && uri.host().is_some()
    });
    if !valid {
        diag.error(
            url.span(),
            format!(
                "events.store: \"{}\" is not a NATS URL such as nats://127.0.0.1:4222",
                url.as_str()
            ),
        );
    }
    valid
}

/// Keys of one store kind set on the other are errors, not ignored.
fn refuse_other_kind_keys(raw: &RawStore, kind: RawStoreKind, diag: &mut Diagnostics) {
    let (other, keys): (&str, Vec<(&str, Option<&marked_yaml::Span>)>) = match kind {
        RawStoreKind::Embedded => (
            "nats",
            vec![
                ("url", raw.url.as_ref().map(Text::span)),
                ("urls", raw.urls.as_ref().map(|urls| urls.span())),
                ("stream_prefix", raw.stream_prefix.as_ref().map(Text::span)),
                (
                    "request_timeout",
                    raw.request_timeout.as_ref().map(Text::span),
                ),
                ("outbox_dir", raw.outbox_dir.as_ref().map(Text::span)),
            ],
        ),
        RawStoreKind::Nats => (
            "embedded",
            vec![
                ("data_dir", raw.data_dir.as_ref().map(Text::span)),
                ("commit_window", raw.commit_window.as_ref().map(Text::span)),
            ],
        ),
    };
    for (key, span) in keys {
        if let Some(span) = span {
            diag.error(
                span,
                format!("events.store: `{key}` applies only to `kind: {other}`"),
            );
        }
    }
}

fn directory(
    value: Option<&Text>,
    default: &str,
    base_dir: &Path,
    key: &str,
    diag: &mut Diagnostics,
) -> std::path::PathBuf {
    match value {
        Some(text) if text.trim().is_empty() => {
            diag.error(
                text.span(),
                format!("events.store.{key}: must not be empty"),
            );
            base_dir.join(default)
        }
        Some(text) => base_dir.join(text.as_str()),
        None => base_dir.join(default),
    }
}

fn compile_topic(name: &Text, raw: &RawTopic, diag: &mut Diagnostics) -> Option<TopicSpec> {
    let errors_before = diag.error_count();
    check_name(name, "topic", diag);
    let what = format!("topic \"{}\"", name.as_str());
    let max_event_bytes = max_event_bytes(raw.max_event_bytes.as_ref(), &what, diag);
    let dedupe_window = positive_duration(
        raw.dedupe_window.as_ref(),
        &format!("{what}: dedupe_window"),
        diag,
    )
    .unwrap_or(TopicSpec::DEFAULT_DEDUPE_WINDOW);
    if dedupe_window > TopicSpec::MAX_DEDUPE_WINDOW
        && let Some(text) = &raw.dedupe_window
    {
        diag.error(
            text.span(),
            format!("{what}: dedupe_window: at most 24h (every key in it is remembered)"),
        );
    }
    let max_age = unlimited_or(raw.max_age.as_ref(), TopicSpec::DEFAULT_MAX_AGE, |text| {
        positive_duration(Some(text), &format!("{what}: max_age"), diag)
    });
    let max_events = unlimited_or(
        raw.max_events.as_ref(),
        TopicSpec::DEFAULT_MAX_EVENTS,
        |text| count(text, &format!("{what}: max_events"), diag),
    );
    let max_streams = max_streams(raw.max_streams.as_ref(), &what, diag);
    let default_source = match &raw.default_source {
        Some(source) if source.trim().is_empty() => {
            diag.error(
                source.span(),
                format!("{what}: default_source must not be empty"),
            );
            None
        }
        Some(source) => Some(source.to_string()),
        None => Some(TopicSpec::default_source_for(name)),
    };
    if diag.error_count() > errors_before {
        return None;
    }
    Some(TopicSpec {
        name: name.to_string(),
        max_event_bytes,
        dedupe_window,
        max_age,
        max_events,
        default_source: default_source?,
        max_streams: max_streams?,
    })
}

/// `max_streams`: a whole number above zero (no `unlimited`: every open
/// stream holds a connection and a read cursor).
fn max_streams(value: Option<&Text>, what: &str, diag: &mut Diagnostics) -> Option<usize> {
    let Some(text) = value else {
        return Some(TopicSpec::DEFAULT_MAX_STREAMS);
    };
    match text.trim().parse::<usize>() {
        Ok(count) if count > 0 => Some(count),
        _ => {
            diag.error(
                text.span(),
                format!(
                    "{what}: max_streams: expected a whole number above zero (found \"{}\")",
                    text.as_str()
                ),
            );
            None
        }
    }
}

fn max_event_bytes(value: Option<&Text>, what: &str, diag: &mut Diagnostics) -> usize {
    let what = format!("{what}: max_event_bytes");
    let Some(bytes) = size(value, &what, diag) else {
        return TopicSpec::DEFAULT_MAX_EVENT_BYTES;
    };
    let max = TopicSpec::MAX_EVENT_BYTES as u64;
    match (value, bytes) {
        (Some(text), 0) => diag.error(text.span(), format!("{what}: must be greater than zero")),
        (Some(text), bytes) if bytes > max => {
            diag.error(text.span(), format!("{what}: at most 1MiB ({max} bytes)"));
        }
        _ => return bytes as usize,
    }
    TopicSpec::DEFAULT_MAX_EVENT_BYTES
}

/// A value, `unlimited` (`None`), or the default when absent. A bad
/// value (recorded by `parse`) also gives the default.
fn unlimited_or<T: Copy>(
    value: Option<&Text>,
    default: Option<T>,
    parse: impl FnOnce(&Text) -> Option<T>,
) -> Option<T> {
    match value {
        None => default,
        Some(text) if text.trim() == "unlimited" => None,
        Some(text) => parse(text).or(default),
    }
}

fn count(text: &Text, what: &str, diag: &mut Diagnostics) -> Option<u64> {
    match text.trim().parse::<u64>() {
        Ok(0) | Err(_) => {
            diag.error(
                text.span(),
                format!(
                    "{what}: expected a whole number above zero, or `unlimited` (found \"{}\")",
                    text.as_str()
                ),
            );
            None
        }
        Ok(count) => Some(count),
    }
}

/// A wait between attempts, shared by subscriptions and async routes.
pub(super) fn backoff(
    raw: Option<&super::super::raw::RawBackoff>,
    default: super::super::model::Backoff,
    what: &str,
    diag: &mut Diagnostics,
) -> super::super::model::Backoff {
    let Some(raw) = raw else {
        return default;
    };
    let wait = |value: Option<&Text>, key: &str, fallback: Duration, diag: &mut Diagnostics| {
        positive_duration(value, &format!("{what}.backoff.{key}"), diag).unwrap_or(fallback)
    };
    let base = wait(raw.base.as_ref(), "base", default.base, diag);
    let max = wait(raw.max.as_ref(), "max", default.max.max(base), diag);
    if max < base
        && let Some(text) = &raw.max
    {
        diag.error(
            text.span(),
            format!("{what}.backoff.max: must not be below backoff.base"),
        );
    }
    super::super::model::Backoff {
        base,
        max: max.max(base),
    }
}

/// `max_attempts`: 1 to `max`.
pub(super) fn attempts(
    value: Option<&marked_yaml::Spanned<u32>>,
    default: u32,
    max: u32,
    what: &str,
    diag: &mut Diagnostics,
) -> u32 {
    let Some(value) = value else {
        return default;
    };
    if **value == 0 || **value > max {
        diag.error(
            value.span(),
            format!("{what}: max_attempts must be between 1 and {max}"),
        );
        return default;
    }
    **value
}
