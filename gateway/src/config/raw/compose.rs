//! Raw serde types for a route's `compose:` block, and [`YamlTree`]: a
//! free-form YAML value (a call's body, the response template) that keeps
//! the position of every node so template errors can point at them.

use std::collections::HashMap;

use marked_yaml::{Span, Spanned};
use serde::Deserialize;
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{OrderedPairs, Text};

/// `compose:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCompose {
    /// Call name → call, in file order.
    pub calls: Spanned<OrderedPairs<Text, RawCall>>,
    pub response: Option<YamlTree>,
    pub primary: Option<Text>,
    pub sequential: Option<Spanned<bool>>,
    pub cache: Option<Spanned<RawResponseCache>>,
}

/// One entry of `compose.calls`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCall {
    pub backend: Text,
    pub method: Option<Text>,
    pub path: Option<Text>,
    pub body: Option<YamlTree>,
    /// A GraphQL query: makes this a GraphQL call.
    pub graphql: Option<Text>,
    pub variables: Option<YamlTree>,
    /// Where the value sits inside the GraphQL `data`.
    pub data: Option<Text>,
    /// A unary gRPC method (`package.Service/Method`): makes this a gRPC
    /// call through the bridge, with `body` as the request message.
    pub grpc: Option<Text>,
    pub optional: Option<bool>,
    pub timeout: Option<Text>,
    #[serde(default)]
    pub headers: OrderedPairs<Text, Text>,
    pub coalesce: Option<bool>,
    pub cache: Option<Spanned<RawCallCache>>,
    /// Header propagation rules for this call, after `propagate.all`.
    #[serde(default)]
    pub propagate: Vec<super::RawHeaderRule>,
    /// Replaces the route's and the backend's retry policy for this call.
    pub retry: Option<super::RawRetry>,
}

/// `compose.calls.<name>.cache:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCallCache {
    pub ttl: Text,
    pub honor_cache_control: Option<bool>,
    pub max_entries: Option<Spanned<u64>>,
}

/// `compose.cache:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawResponseCache {
    pub ttl: Text,
    #[serde(default)]
    pub vary: Vec<Text>,
    pub max_entries: Option<Spanned<u64>>,
}

/// A free-form YAML value with the span of every node.
#[derive(Debug, Clone)]
pub(crate) struct YamlTree(Spanned<YamlNode>);

#[derive(Debug, Clone)]
enum YamlNode {
    Scalar(String),
    Seq(Vec<Spanned<YamlNode>>),
    Map(Vec<(String, Spanned<YamlNode>)>),
}

/// Where each node of a [`YamlTree`] is, by its key path.
pub(crate) type SpanIndex = HashMap<Vec<String>, Span>;

impl YamlTree {
    pub fn span(&self) -> &Span {
        self.0.span()
    }

    /// The JSON value, and the span of every node by key path. Plain
    /// scalars are typed as YAML does: `true`, `12`, `1.5`, `null`/`~`.
    pub fn to_json(&self) -> (Value, SpanIndex) {
        let mut index = SpanIndex::new();
        let value = convert(&self.0, &mut Vec::new(), &mut index);
        (value, index)
    }
}

/// The span of the deepest node on `at` that the index knows.
pub(crate) fn locate<'a>(index: &'a SpanIndex, fallback: &'a Span, at: &[String]) -> &'a Span {
    (0..=at.len())
        .rev()
        .find_map(|len| index.get(&at[..len]))
        .unwrap_or(fallback)
}

fn convert(node: &Spanned<YamlNode>, at: &mut Vec<String>, index: &mut SpanIndex) -> Value {
    index.insert(at.clone(), *node.span());
    match &**node {
        YamlNode::Scalar(text) => scalar(text),
        YamlNode::Seq(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(n, item)| {
                    at.push(n.to_string());
                    let value = convert(item, at, index);
                    at.pop();
                    value
                })
                .collect(),
        ),
        YamlNode::Map(pairs) => Value::Object(
            pairs
                .iter()
                .map(|(key, item)| {
                    at.push(key.clone());
                    let value = convert(item, at, index);
                    at.pop();
                    (key.clone(), value)
                })
                .collect(),
        ),
    }
}

fn scalar(text: &str) -> Value {
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" | "~" => Value::Null,
        _ => text
            .parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| {
                text.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
            })
            .unwrap_or_else(|| Value::String(text.to_owned())),
    }
}

impl<'de> Deserialize<'de> for YamlTree {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Spanned::<YamlNode>::deserialize(deserializer).map(YamlTree)
    }
}

impl<'de> Deserialize<'de> for YamlNode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = YamlNode;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any YAML value")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<YamlNode, E> {
        Ok(YamlNode::Scalar(text.to_owned()))
    }

    fn visit_bool<E: serde::de::Error>(self, flag: bool) -> Result<YamlNode, E> {
        Ok(YamlNode::Scalar(flag.to_string()))
    }

    fn visit_i64<E: serde::de::Error>(self, number: i64) -> Result<YamlNode, E> {
        Ok(YamlNode::Scalar(number.to_string()))
    }

    fn visit_u64<E: serde::de::Error>(self, number: u64) -> Result<YamlNode, E> {
        Ok(YamlNode::Scalar(number.to_string()))
    }

    fn visit_f64<E: serde::de::Error>(self, number: f64) -> Result<YamlNode, E> {
        Ok(YamlNode::Scalar(number.to_string()))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<YamlNode, E> {
        Ok(YamlNode::Scalar("null".to_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<YamlNode, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(YamlNode::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<YamlNode, A::Error> {
        let mut pairs = Vec::new();
        while let Some(pair) = map.next_entry()? {
            pairs.push(pair);
        }
        Ok(YamlNode::Map(pairs))
    }
}
