//! Header propagation rules for the upstream calls the gateway makes on a
//! client's behalf (composition calls, GraphQL subgraph requests and
//! subscriptions): which client headers go up, under which name, what is
//! inserted and what is removed. Plain data; applied by
//! the `upstream::outbound` module.

use std::collections::BTreeMap;

use http::{HeaderName, HeaderValue};

/// One rule, applied in list order to the outgoing request's headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderRule {
    /// Copy the client's `named` header (every value), as `rename` when
    /// set; when the client sent none, `default` is sent if given.
    Propagate {
        named: HeaderName,
        rename: Option<HeaderName>,
        default: Option<HeaderValue>,
    },
    /// Set a static value (replacing any value set before).
    Insert {
        name: HeaderName,
        value: HeaderValue,
    },
    /// Remove a header set by an earlier rule.
    Remove { named: HeaderName },
}

/// The top-level `propagate:` section. The default propagates nothing:
/// only the gateway's own headers (request id, forwarding family, trace
/// context) go up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Propagation {
    /// Applied to every composition call and every subgraph request.
    pub all: Vec<HeaderRule>,
    /// Applied after `all`, to one subgraph's requests.
    pub subgraphs: BTreeMap<String, Vec<HeaderRule>>,
}

impl Propagation {
    /// The rule lists for a subgraph, in the order they apply.
    pub fn for_subgraph(&self, name: &str) -> [&[HeaderRule]; 2] {
        let own = self.subgraphs.get(name).map_or(&[][..], Vec::as_slice);
        [&self.all, own]
    }
}

/// Headers the gateway owns on every upstream request: connection
/// framing, the body's type and length, the request id, the forwarding
/// family and the trace context. Propagation rules may not name them.
pub const MANAGED_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "content-type",
    "x-request-id",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
    "x-real-ip",
    "traceparent",
    "tracestate",
];

/// Whether `name` is one of [`MANAGED_HEADERS`].
pub fn is_managed(name: &HeaderName) -> bool {
    MANAGED_HEADERS.contains(&name.as_str())
}
