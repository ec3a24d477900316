//! Splits the YAML document into pieces and deserialises each one alone.
//!
//! A single serde pass stops at its first error. Here the file is parsed
//! into a `marked_yaml::Node` tree first; then each top-level section, each
//! backend and each route goes through serde separately, so a typo in one
//! route does not hide the mistakes in the next. Each serde error is
//! rewritten into a message that names the backend or route it belongs to.
//!
//! To add a top-level section: add its field to `RawConfig`, its name to
//! `SECTIONS`, and an arm to `read_section`.

use marked_yaml::types::{MarkedScalarNode, MarkedSequenceNode};
use marked_yaml::{FromNodeError, LoadError, LoaderOptions, Node, Span, Spanned};
use serde::Deserialize;

use super::errors::{Diagnostics, did_you_mean};
use super::raw::{BackendEntry, RawConfig, RouteEntry};

mod events;

/// Every top-level key routes.yaml accepts.
pub(crate) const SECTIONS: &[&str] = &[
    "listen",
    "admin",
    "server",
    "backends",
    "routes",
    "grpc",
    "graphql",
    "propagate",
    "log",
    "metrics",
    "tracing",
    "rate_limits",
    "auth",
    "cors",
    "events",
];

/// Parses `source` and deserialises every section that can be. Returns
/// `None` only when the YAML itself cannot be parsed.
pub(crate) fn read(source: &str, diag: &mut Diagnostics) -> Option<RawConfig> {
    let root = parse_document(source, diag)?;
    let mut raw = RawConfig::default();
    if let Some(mapping) = root.as_mapping() {
        for (key, value) in mapping.iter() {
            read_section(&mut raw, key, value, diag);
        }
    }
    Some(raw)
}

fn read_section(raw: &mut RawConfig, key: &MarkedScalarNode, value: &Node, diag: &mut Diagnostics) {
    match key.as_str() {
        "listen" => raw.listen = deserialize(value, "listen", diag),
        "admin" => raw.admin = deserialize(value, "admin", diag),
        "server" => raw.server = deserialize(value, "server", diag),
        "backends" => raw.backends = read_backends(value, diag),
        "routes" => {
            raw.routes_declared_empty = value.as_sequence().is_some_and(|s| s.is_empty());
            raw.routes = read_routes(value, diag);
        }
        "grpc" => raw.grpc = deserialize(value, "grpc", diag),
        "graphql" => raw.graphql = deserialize(value, "graphql", diag),
        "propagate" => raw.propagate = deserialize(value, "propagate", diag),
        "log" => raw.log = deserialize(value, "log", diag),
        "metrics" => raw.metrics = deserialize(value, "metrics", diag),
        "tracing" => raw.tracing = deserialize(value, "tracing", diag),
        "rate_limits" => raw.rate_limits = deserialize(value, "rate_limits", diag),
        "auth" => raw.auth = deserialize(value, "auth", diag),
        "cors" => raw.cors = deserialize(value, "cors", diag),
        "events" => raw.events = events::read_events(value, diag),
        other => diag.error(
            key.span(),
            format!(
                "unknown section \"{other}\"{}; expected one of: {}",
                did_you_mean(other, SECTIONS.iter().copied()),
                SECTIONS.join(", ")
            ),
        ),
    }
}

/// A file that is empty or only comments is an empty mapping.
fn parse_document(source: &str, diag: &mut Diagnostics) -> Option<Node> {
    let options = LoaderOptions::default().error_on_duplicate_keys(true);
    match marked_yaml::parse_yaml_with_options(0, source, options) {
        Ok(root) => Some(root),
        Err(LoadError::TopLevelMustBeMapping(_)) if is_blank_yaml(source) => Some(Node::from(
            marked_yaml::types::MarkedMappingNode::new_empty(Span::new_blank()),
        )),
        Err(error) => {
            report_load_error(error, diag);
            None
        }
    }
}

fn is_blank_yaml(source: &str) -> bool {
    source
        .lines()
        .map(str::trim)
        .all(|line| line.is_empty() || line.starts_with('#') || line == "---")
}

fn report_load_error(error: LoadError, diag: &mut Diagnostics) {
    let (marker, message) = match error {
        LoadError::TopLevelMustBeMapping(mark) => (
            mark,
            format!(
                "the file must be a mapping of sections ({})",
                SECTIONS.join(", ")
            ),
        ),
        LoadError::TopLevelMustBeSequence(mark) => (mark, "unexpected sequence".to_owned()),
        LoadError::UnexpectedAnchor(mark) => (
            mark,
            "YAML anchors and aliases are not supported".to_owned(),
        ),
        LoadError::MappingKeyMustBeScalar(mark) => {
            (mark, "mapping keys must be plain strings".to_owned())
        }
        LoadError::UnexpectedTag(mark) => (mark, "YAML tags (`!foo`) are not supported".to_owned()),
        LoadError::ScanError(mark, scan) => (mark, format!("invalid YAML: {}", scan.info())),
        LoadError::DuplicateKey(keys) => {
            let first_line = keys.prev_key.span().start().map_or(0, |mark| mark.line());
            let message = format!(
                "duplicate key \"{}\" (first defined on line {first_line})",
                keys.key.as_str()
            );
            diag.error(keys.key.span(), message);
            return;
        }
    };
    diag.error(&Span::new_start(marker), message);
}

fn read_backends(node: &Node, diag: &mut Diagnostics) -> Vec<BackendEntry> {
    let Some(mapping) = node.as_mapping() else {
        if !is_empty_scalar(node) {
            diag.error(
                node.span(),
                "backends: expected a mapping of backend names to backends",
            );
        }
        return Vec::new();
    };
    mapping
        .iter()
        .map(|(name, value)| {
            let what = format!("backend \"{}\"", name.as_str());
            BackendEntry {
                name: Spanned::new(*name.span(), name.as_str().to_owned()),
                backend: deserialize(value, &what, diag),
            }
        })
        .collect()
}

fn read_routes(node: &Node, diag: &mut Diagnostics) -> Vec<RouteEntry> {
    let Some(sequence) = node.as_sequence() else {
        if !is_empty_scalar(node) {
            diag.error(
                node.span(),
                "routes: expected a list of routes (each item starts with `- `)",
            );
        }
        return Vec::new();
    };
    sequence
        .iter()
        .enumerate()
        .filter_map(|(index, item)| {
            let item = &single_method_as_list(item);
            let item = &events::async_flag_as_mapping(item);
            let route = deserialize(item, &route_label_of_node(item, index), diag)?;
            Some(RouteEntry {
                span: *item.span(),
                route,
            })
        })
        .collect()
}

/// `methods: PATCH` means `methods: [PATCH]`.
fn single_method_as_list(route: &Node) -> std::borrow::Cow<'_, Node> {
    let single = route
        .as_mapping()
        .and_then(|mapping| mapping.get_node("methods"))
        .is_some_and(|methods| methods.as_scalar().is_some());
    if !single {
        return std::borrow::Cow::Borrowed(route);
    }
    let mut route = route.clone();
    if let Some(mapping) = route.as_mapping_mut() {
        for (key, value) in mapping.iter_mut() {
            if key.as_str() == "methods" {
                let span = *value.span();
                *value = Node::from(MarkedSequenceNode::new(span, vec![value.clone()]));
            }
        }
    }
    std::borrow::Cow::Owned(route)
}

/// `route "NAME"`, else `route "PATH"`, else `route #N` (1-based).
pub(crate) fn route_label_of_node(node: &Node, index: usize) -> String {
    let key = |name| node.as_mapping().and_then(|m| m.get_scalar(name));
    match key("name").or_else(|| key("path")) {
        Some(label) => format!("route \"{}\"", label.as_str()),
        None => format!("route #{}", index + 1),
    }
}

pub(super) fn is_empty_scalar(node: &Node) -> bool {
    node.as_scalar()
        .is_some_and(|scalar| scalar.as_str().is_empty())
}

/// Deserialises one piece; on failure records the error and returns `None`.
pub(super) fn deserialize<'de, T: Deserialize<'de>>(
    node: &'de Node,
    what: &str,
    diag: &mut Diagnostics,
) -> Option<T> {
    match marked_yaml::from_node(node) {
        Ok(value) => Some(value),
        Err(error) => {
            report_serde_error(&error, node, what, diag);
            None
        }
    }
}

fn report_serde_error(error: &FromNodeError, node: &Node, what: &str, diag: &mut Diagnostics) {
    let span = error.start_mark().map_or(*node.span(), Span::new_start);
    let at = error
        .path()
        .map(|path| format!("{what}: {path}"))
        .unwrap_or_else(|| what.to_owned());
    let message = match &**error {
        marked_yaml::Error::UnknownFieldError(field, expected, _) => {
            let at = match error.path() {
                Some(path) if path == field => what.to_owned(),
                _ => at
                    .strip_suffix(&format!(".{field}"))
                    .unwrap_or(&at)
                    .to_owned(),
            };
            let at = at.as_str();
            unknown_key_message(at, field, expected)
        }
        marked_yaml::Error::IntegerParseFailure(parse, _) => {
            format!("{at}: expected a whole number ({parse})")
        }
        other => format!("{at}: {}", humanize(&other.to_string())),
    };
    diag.error(&span, message);
}

/// Serde names our raw structs (`expected struct RawEjection`); users
/// wrote a mapping, so say that instead.
fn humanize(message: &str) -> String {
    let Some(at) = message.find("expected struct Raw") else {
        return message.to_owned();
    };
    if message.starts_with("invalid length") {
        return "expected a mapping (key: value lines), found a list".to_owned();
    }
    format!("{}expected a mapping (key: value lines)", &message[..at])
}

fn unknown_key_message(at: &str, field: &str, expected: &[&str]) -> String {
    let suggestion = did_you_mean(field, expected.iter().copied());
    if suggestion.is_empty() {
        format!(
            "{at}: unknown key \"{field}\"; expected one of: {}",
            expected.join(", ")
        )
    } else {
        format!("{at}: unknown key \"{field}\"{suggestion}")
    }
}
