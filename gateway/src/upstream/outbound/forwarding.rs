//! The pure header work of the way up (and the route's rules on the way
//! down): hop-by-hop stripping, the `X-Forwarded-*` / `Forwarded` /
//! `X-Real-IP` family, and the route's add/remove rules.

use std::net::IpAddr;
use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::config::model::HeaderRules;
use crate::context::ClientIp;
use crate::ip_text::IpText;

/// Headers that describe one connection, never forwarded (RFC 9110 §7.6.1),
/// and `Proxy-Authenticate`, meant for the client's proxy, not the next hop.
/// Constant names, so removing them needs no parsing.
const HOP_BY_HOP: [HeaderName; HOP_COUNT] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
    header::PROXY_AUTHENTICATE,
];

const HOP_COUNT: usize = 9;

/// Where `Connection` and `TE` are in [`HOP_BY_HOP`].
const CONNECTION_AT: usize = 0;
const TE_AT: usize = 3;

pub(crate) const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub(crate) const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub(crate) const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub(crate) const FORWARDED: HeaderName = HeaderName::from_static("forwarded");

/// Removes hop-by-hop headers, including every header that `Connection`
/// names. `TE: trailers` survives on requests: gRPC needs it end to end.
///
/// One pass over the names finds which are present, and only those are
/// removed: removing all nine by name (a hash and a probe each) cost more
/// than the rest of a proxied request's header work (callgrind), and most
/// heads carry none of them, or only `Connection`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let present = present_of(headers, &HOP_BY_HOP);
    let (connection, te) = (present[CONNECTION_AT], present[TE_AT]);
    let keep_te_trailers = te
        && headers.get_all(header::TE).iter().any(|v| {
            v.to_str().is_ok_and(|s| {
                s.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
            })
        });
    if connection {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    remove_present(headers, &HOP_BY_HOP, present);
    if keep_te_trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
}

/// Which of `names` the headers hold, in one pass over the headers' names
/// (cheaper than a lookup by name for each, which hashes and probes).
fn present_of<const N: usize>(headers: &HeaderMap, names: &[HeaderName; N]) -> [bool; N] {
    let mut present = [false; N];
    for name in headers.keys() {
        if let Some(index) = names.iter().position(|wanted| wanted == name) {
            present[index] = true;
        }
    }
    present
}

/// Removes the names [`present_of`] found.
fn remove_present<const N: usize>(
    headers: &mut HeaderMap,
    names: &[HeaderName; N],
    present: [bool; N],
) {
    for (name, present) in names.iter().zip(present) {
        if present {
            headers.remove(name);
        }
    }
}

pub(crate) const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// What the gateway knows about the client.
#[derive(Debug, Clone)]
pub struct ForwardedFor {
    /// The client, resolved through the trusted proxies.
    pub client: ClientIp,
    /// The `Host` / `:authority` the client used.
    pub host: Option<String>,
}

/// The forwarding headers every upstream request carries, whatever the
/// handler (proxy, gRPC, composition, GraphQL): `X-Forwarded-For`,
/// `X-Forwarded-Proto`, `X-Forwarded-Host`, `Forwarded` and `X-Real-IP`.
///
/// From a direct client (a peer not in `server.trusted_proxies`) the
/// client's own values are ignored: the gateway is the edge, so only the
/// socket tells who the client is. From a trusted proxy, its
/// `X-Forwarded-For` and `Forwarded` are kept and extended with the peer,
/// and its `X-Forwarded-Proto` / `X-Forwarded-Host` kept. `X-Real-IP` is
/// always the resolved client address.
pub fn forwarding_headers(incoming: &HeaderMap, forwarded: &ForwardedFor) -> HeaderMap {
    let client = &forwarded.client;
    let peer_ip = client.peer.ip().to_canonical();
    let scheme = if client.over_tls { "https" } else { "http" };
    let kept = |name: &HeaderName| {
        client
            .trusted_peer
            .then(|| joined(incoming, name))
            .flatten()
    };
    let mut out = HeaderMap::with_capacity(5);
    let mut text = String::with_capacity(96);
    if let Some(prior) = kept(&X_FORWARDED_FOR) {
        text.push_str(&prior);
        text.push_str(", ");
    }
    push_ip(&mut text, peer_ip);
    out.insert(X_FORWARDED_FOR, header_value(&text));
    let proto = incoming
        .get(&X_FORWARDED_PROTO)
        .filter(|_| client.trusted_peer)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static(scheme));
    out.insert(X_FORWARDED_PROTO, proto);
    let host = forwarded.host.as_deref().filter(|h| is_token_safe(h));
    let forwarded_host = incoming
        .get(&X_FORWARDED_HOST)
        .filter(|_| client.trusted_peer)
        .cloned()
        .or_else(|| host.map(header_value));
    if let Some(value) = forwarded_host {
        out.insert(X_FORWARDED_HOST, value);
    }
    text.clear();
    if let Some(prior) = kept(&FORWARDED) {
        text.push_str(&prior);
        text.push_str(", ");
    }
    if peer_ip.is_ipv6() {
        text.push_str("for=\"[");
        push_ip(&mut text, peer_ip);
        text.push_str("]\"");
    } else {
        text.push_str("for=");
        push_ip(&mut text, peer_ip);
    }
    text.push_str(";proto=");
    text.push_str(scheme);
    if let Some(host) = host {
        text.push_str(";host=\"");
        text.push_str(host);
        text.push('"');
    }
    out.insert(FORWARDED, header_value(&text));
    text.clear();
    push_ip(&mut text, client.ip);
    out.insert(X_REAL_IP, header_value(&text));
    out
}

/// What a direct client's forwarding family is a function of: the
/// headers it sent are ignored (see [`forwarding_headers`]).
#[derive(Debug)]
struct DirectClient {
    peer: IpAddr,
    client: IpAddr,
    over_tls: bool,
    host: Option<Box<str>>,
}

thread_local! {
    /// The last direct client's forwarding family on this worker thread.
    static LAST_DIRECT: std::cell::RefCell<Option<(DirectClient, Arc<HeaderMap>)>> =
        const { std::cell::RefCell::new(None) };
}

/// [`forwarding_headers`] for `client`, whose `Host` is `host`.
///
/// A direct client's family depends only on its address, the listener's
/// TLS and `Host`, so each worker keeps the last one it built and hands
/// out copies while they stay the same (the requests of one kept-alive
/// connection, as nginx keeps its per-connection variables): building the
/// family was about 4,000 instructions of a proxied request (five values
/// formatted, allocated and hashed into a map), a copy of the map about a
/// quarter of that (two allocations and a count per value), a shared
/// reference to it a few (callgrind, docs/latency-comparison.md). A
/// trusted proxy's family also depends on the headers it sent, so it is
/// built every time.
pub fn forwarding_headers_for(
    incoming: &HeaderMap,
    client: ClientIp,
    host: Option<&str>,
) -> Arc<HeaderMap> {
    let build = || {
        Arc::new(forwarding_headers(
            incoming,
            &ForwardedFor {
                client,
                host: host.map(str::to_owned),
            },
        ))
    };
    if client.trusted_peer {
        return build();
    }
    let peer = client.peer.ip().to_canonical();
    let same = |last: &DirectClient| {
        last.peer == peer
            && last.client == client.ip
            && last.over_tls == client.over_tls
            && last.host.as_deref() == host
    };
    LAST_DIRECT.with(|cell| {
        if let Some((last, family)) = &*cell.borrow()
            && same(last)
        {
            return Arc::clone(family);
        }
        let family = build();
        let key = DirectClient {
            peer,
            client: client.ip,
            over_tls: client.over_tls,
            host: host.map(Box::from),
        };
        *cell.borrow_mut() = Some((key, Arc::clone(&family)));
        family
    })
}

fn push_ip(text: &mut String, ip: IpAddr) {
    text.push_str(IpText::of(ip).as_str());
}

const FAMILY_COUNT: usize = 5;

/// The forwarding family's names, which [`set_forwarding_headers`]
/// replaces.
const FAMILY: [HeaderName; FAMILY_COUNT] = [
    X_FORWARDED_FOR,
    X_FORWARDED_PROTO,
    X_FORWARDED_HOST,
    FORWARDED,
    X_REAL_IP,
];

/// Replaces the forwarding family in `headers` with `forwarding`, and
/// every other name `forwarding` holds (the route's verified claim
/// headers) with its values there, as `HeaderMap::extend` would, without
/// cloning the map. A family name the headers do not hold is not removed
/// (one pass over the names finds those they do).
pub fn set_forwarding_headers(headers: &mut HeaderMap, forwarding: &HeaderMap) {
    let present = present_of(headers, &FAMILY);
    remove_present(headers, &FAMILY, present);
    headers.reserve(forwarding.len());
    // `iter` gives a name's values one after the other: the first replaces
    // what `headers` has, the rest are appended (no lookup by name).
    let mut previous: Option<&HeaderName> = None;
    for (name, value) in forwarding {
        if previous == Some(name) {
            headers.append(name.clone(), value.clone());
        } else {
            headers.insert(name.clone(), value.clone());
            previous = Some(name);
        }
    }
}

/// All lines of a header as one comma-separated list.
fn joined(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

fn is_token_safe(host: &str) -> bool {
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

impl HeaderRules {
    /// Applies the route's request rules: removals first, then additions
    /// (an added header replaces any value the client sent).
    pub fn apply_to_request(&self, headers: &mut HeaderMap) {
        apply(headers, &self.request_remove, &self.request_add);
    }

    /// Applies the route's response rules.
    pub fn apply_to_response(&self, headers: &mut HeaderMap) {
        apply(headers, &self.response_remove, &self.response_add);
    }
}

fn apply(headers: &mut HeaderMap, remove: &[HeaderName], add: &[(HeaderName, HeaderValue)]) {
    for name in remove {
        headers.remove(name);
    }
    for (name, value) in add {
        headers.insert(name.clone(), value.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (k, v) in pairs {
            headers.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        headers
    }

    #[test]
    fn the_connection_and_te_slots_name_those_headers() {
        assert_eq!(HOP_BY_HOP[CONNECTION_AT], header::CONNECTION);
        assert_eq!(HOP_BY_HOP[TE_AT], header::TE);
    }

    #[test]
    fn every_hop_by_hop_header_is_stripped_and_nothing_else() {
        for name in &HOP_BY_HOP {
            let mut headers = map(&[("x-kept", "1"), (name.as_str(), "v"), ("accept", "*/*")]);
            strip_hop_by_hop(&mut headers);
            let names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
            assert_eq!(names, vec!["x-kept", "accept"], "{name}");
        }
        let mut plain = map(&[("x-kept", "1"), ("accept", "*/*")]);
        strip_hop_by_hop(&mut plain);
        assert_eq!(plain.len(), 2);
    }

    /// The per-worker memo gives what the pure function gives, for every
    /// change of what a direct client's family depends on, and never
    /// memoises a trusted proxy's (which depends on its headers).
    #[test]
    fn the_memoised_family_is_the_built_one() {
        let direct = |peer: &str| ClientIp::direct(peer.parse().unwrap());
        let mut trusted = direct("10.0.0.1:1");
        trusted.trusted_peer = true;
        trusted.ip = "203.0.113.9".parse().unwrap();
        let mut over_tls = direct("10.1.2.3:5555");
        over_tls.over_tls = true;
        let planted = map(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-proto", "https"),
        ]);
        let other = map(&[("x-forwarded-for", "7.7.7.7")]);
        let cases: [(HeaderMap, ClientIp, Option<&str>); 9] = [
            (HeaderMap::new(), direct("10.1.2.3:5555"), Some("a.example")),
            (HeaderMap::new(), direct("10.1.2.3:5555"), Some("a.example")),
            (planted.clone(), direct("10.1.2.3:6666"), Some("a.example")),
            (HeaderMap::new(), direct("10.1.2.3:5555"), Some("b.example")),
            (HeaderMap::new(), direct("10.1.2.3:5555"), None),
            (HeaderMap::new(), direct("[::1]:80"), None),
            (HeaderMap::new(), over_tls, None),
            (planted, trusted, Some("a.example")),
            (other, trusted, Some("a.example")),
        ];
        for (incoming, client, host) in cases {
            let built = forwarding_headers(
                &incoming,
                &ForwardedFor {
                    client,
                    host: host.map(str::to_owned),
                },
            );
            assert_eq!(
                *forwarding_headers_for(&incoming, client, host),
                built,
                "{client:?} {host:?}"
            );
        }
    }

    #[test]
    fn forwarding_replaces_only_the_family_and_every_line_of_it() {
        let mut headers = map(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "7.7.7.7"),
            ("x-real-ip", "6.6.6.6"),
            ("x-other", "kept"),
        ]);
        let forwarded = ForwardedFor {
            client: ClientIp::direct("10.1.2.3:5555".parse().unwrap()),
            host: None,
        };
        set_forwarding_headers(
            &mut headers,
            &forwarding_headers(&HeaderMap::new(), &forwarded),
        );
        let xff: Vec<_> = headers.get_all("x-forwarded-for").iter().collect();
        assert_eq!(xff, vec!["10.1.2.3"]);
        assert_eq!(headers["x-real-ip"], "10.1.2.3");
        assert_eq!(headers["x-other"], "kept");
        assert!(headers.get("x-forwarded-host").is_none());
    }

    #[test]
    fn other_names_in_the_forwarding_map_replace_the_requests_values() {
        // The auth layer put the verified claim header on the request; the
        // builder's map carries it too (for derived calls): one copy goes up.
        let mut headers = map(&[("x-user-id", "user-7"), ("x-tenant", "spoofed")]);
        let mut forwarding = map(&[
            ("x-user-id", "user-7"),
            ("x-tenant", "a"),
            ("x-tenant", "b"),
        ]);
        forwarding.insert(X_REAL_IP, HeaderValue::from_static("10.1.2.3"));
        set_forwarding_headers(&mut headers, &forwarding);
        let values = |name: &str| -> Vec<&str> {
            headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect()
        };
        assert_eq!(values("x-user-id"), ["user-7"]);
        assert_eq!(values("x-tenant"), ["a", "b"]);
        assert_eq!(values("x-real-ip"), ["10.1.2.3"]);
    }

    #[test]
    fn strips_hop_by_hop_and_connection_named_headers() {
        let mut headers = map(&[
            ("connection", "close, X-Secret"),
            ("x-secret", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("te", "trailers, gzip"),
            ("x-kept", "yes"),
        ]);
        strip_hop_by_hop(&mut headers);
        let names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, vec!["x-kept", "te"]);
        assert_eq!(headers["te"], "trailers");
    }

    #[test]
    fn forwarding_headers_come_from_the_socket() {
        let mut headers = map(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("forwarded", "for=6.6.6.6"),
            ("x-forwarded-proto", "https"),
            ("host", "api.example.com"),
        ]);
        let forwarded = ForwardedFor {
            client: ClientIp::direct("10.1.2.3:5555".parse().unwrap()),
            host: Some("api.example.com".into()),
        };
        let forwarding = forwarding_headers(&headers, &forwarded);
        set_forwarding_headers(&mut headers, &forwarding);
        assert_eq!(headers["x-forwarded-for"], "10.1.2.3");
        assert_eq!(headers["x-forwarded-proto"], "http");
        assert_eq!(headers["x-forwarded-host"], "api.example.com");
        assert_eq!(
            headers["forwarded"],
            "for=10.1.2.3;proto=http;host=\"api.example.com\""
        );
        assert_eq!(headers.get_all("x-forwarded-for").iter().count(), 1);
    }

    #[test]
    fn ipv6_clients_are_quoted_in_forwarded() {
        let mut headers = HeaderMap::new();
        let forwarded = ForwardedFor {
            client: ClientIp::direct("[::1]:80".parse().unwrap()),
            host: None,
        };
        let forwarding = forwarding_headers(&headers, &forwarded);
        set_forwarding_headers(&mut headers, &forwarding);
        assert_eq!(headers["forwarded"], "for=\"[::1]\";proto=http");
        assert!(headers.get("x-forwarded-host").is_none());
        assert_eq!(headers["x-real-ip"], "::1");
    }

    #[test]
    fn a_direct_client_cannot_plant_forwarding_headers() {
        let incoming = map(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-real-ip", "6.6.6.6"),
            ("x-forwarded-host", "evil"),
        ]);
        let forwarded = ForwardedFor {
            client: ClientIp::direct("198.51.100.7:1".parse().unwrap()),
            host: Some("api".into()),
        };
        let out = forwarding_headers(&incoming, &forwarded);
        assert_eq!(out["x-forwarded-for"], "198.51.100.7");
        assert_eq!(out["x-real-ip"], "198.51.100.7");
        assert_eq!(out["x-forwarded-host"], "api");
    }

    #[test]
    fn a_trusted_proxy_chain_is_kept_and_extended() {
        let incoming = map(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=203.0.113.9;proto=https"),
            ("x-forwarded-proto", "https"),
        ]);
        let forwarded = ForwardedFor {
            client: ClientIp {
                ip: "203.0.113.9".parse().unwrap(),
                peer: "10.0.0.2:1".parse().unwrap(),
                trusted_peer: true,
                over_tls: false,
            },
            host: Some("api".into()),
        };
        let out = forwarding_headers(&incoming, &forwarded);
        assert_eq!(out["x-forwarded-for"], "203.0.113.9, 10.0.0.2");
        assert_eq!(out["x-real-ip"], "203.0.113.9");
        assert_eq!(out["x-forwarded-proto"], "https");
        assert_eq!(
            out["forwarded"],
            "for=203.0.113.9;proto=https, for=10.0.0.2;proto=http;host=\"api\""
        );
    }
}
