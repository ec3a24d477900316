//! Who the client is: the socket's peer, or, when that peer is a trusted
//! proxy, the address it and the proxies before it vouch for.
//!
//! Pure functions over plain data. [`resolve`] walks `X-Forwarded-For`
//! (else the `for=` parameters of `Forwarded`) from the right, as nginx's
//! `real_ip_recursive on` does: every hop that is a trusted proxy is
//! skipped, and the first one that is not is the client. If every hop is
//! trusted, the leftmost is the client; an entry that is not an address
//! (`unknown`, an obfuscated identifier, garbage) stops the walk at the
//! last trusted hop. A peer that is not trusted is the client, whatever
//! its headers say. At most [`MAX_HOPS`] entries are read from the right,
//! so the cost is bounded whatever the header's length.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use ipnet::IpNet;

use crate::context::ClientIp;

/// Most forwarding hops examined per request.
pub const MAX_HOPS: usize = 32;

/// Whether `ip` falls in one of `trusted`.
pub fn is_trusted(trusted: &[IpNet], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    trusted.iter().any(|net| net.contains(&ip))
}

/// The client of a request that came from `peer` with `headers`.
pub fn resolve(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet]) -> ClientIp {
    let peer_ip = peer.ip().to_canonical();
    if !is_trusted(trusted, peer_ip) {
        return ClientIp {
            ip: peer_ip,
            peer,
            trusted_peer: false,
            over_tls: false,
        };
    }
    let mut client = peer_ip;
    for hop in forwarded_hops(headers).into_iter().rev().take(MAX_HOPS) {
        let Some(ip) = hop else { break };
        client = ip;
        if !is_trusted(trusted, ip) {
            break;
        }
    }
    ClientIp {
        ip: client,
        peer,
        trusted_peer: true,
        over_tls: false,
    }
}

/// The hops the headers list, left to right; `None` for an entry that is
/// not an address. `X-Forwarded-For` wins over `Forwarded` when both are
/// present.
pub fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let xff: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or("?"))
        .collect();
    if !xff.is_empty() {
        return xff
            .iter()
            .flat_map(|line| line.split(','))
            .map(parse_node)
            .collect();
    }
    headers
        .get_all("forwarded")
        .iter()
        .map(|v| v.to_str().unwrap_or("for=?"))
        .flat_map(|line| line.split(','))
        .filter_map(forwarded_for)
        .map(parse_node)
        .collect()
}

/// The `for=` value of one `Forwarded` element, if it has one.
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("for")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// `1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]`, `[::1]:80` → the address.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(socket) = text.parse::<SocketAddr>() {
        return Some(socket.ip().to_canonical());
    }
    text.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    fn client(peer: &str, pairs: &[(&str, &str)], trusted: &[&str]) -> String {
        resolve(peer.parse().unwrap(), &headers(pairs), &nets(trusted))
            .ip
            .to_string()
    }

    #[test]
    fn cidr_matching_covers_v4_v6_and_mapped_addresses() {
        let trusted = nets(&["10.0.0.0/8", "192.168.1.7/32", "fd00::/8"]);
        assert!(is_trusted(&trusted, "10.200.3.4".parse().unwrap()));
        assert!(!is_trusted(&trusted, "11.0.0.1".parse().unwrap()));
        assert!(is_trusted(&trusted, "192.168.1.7".parse().unwrap()));
        assert!(!is_trusted(&trusted, "192.168.1.8".parse().unwrap()));
        assert!(is_trusted(&trusted, "fd12::1".parse().unwrap()));
        assert!(is_trusted(&trusted, "::ffff:10.1.1.1".parse().unwrap()));
        assert!(!is_trusted(&[], "10.1.1.1".parse().unwrap()));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let claims = [("x-forwarded-for", "1.1.1.1"), ("forwarded", "for=2.2.2.2")];
        assert_eq!(
            client("203.0.113.5:4000", &claims, &["10.0.0.0/8"]),
            "203.0.113.5"
        );
        assert_eq!(client("10.0.0.1:4000", &claims, &[]), "10.0.0.1");
    }

    #[test]
    fn a_trusted_peer_yields_the_rightmost_untrusted_hop() {
        let trusted = ["10.0.0.0/8"];
        let xff = [("x-forwarded-for", "6.6.6.6, 198.51.100.2, 10.0.0.9")];
        assert_eq!(client("10.0.0.1:1", &xff, &trusted), "198.51.100.2");
        // Hops spread over several header lines read as one list.
        let lines = [
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.2, 10.0.0.9"),
        ];
        assert_eq!(client("10.0.0.1:1", &lines, &trusted), "198.51.100.2");
    }

    #[test]
    fn every_hop_trusted_gives_the_leftmost_and_garbage_stops_the_walk() {
        let trusted = ["10.0.0.0/8"];
        let all = [("x-forwarded-for", "10.1.1.1, 10.2.2.2")];
        assert_eq!(client("10.0.0.1:1", &all, &trusted), "10.1.1.1");
        let garbage = [("x-forwarded-for", "6.6.6.6, not-an-ip, 10.2.2.2")];
        assert_eq!(client("10.0.0.1:1", &garbage, &trusted), "10.2.2.2");
        assert_eq!(client("10.0.0.1:1", &[], &trusted), "10.0.0.1");
    }

    #[test]
    fn forwarded_is_read_when_there_is_no_x_forwarded_for() {
        let trusted = ["10.0.0.0/8"];
        let forwarded = [(
            "forwarded",
            "for=192.0.2.60;proto=http, for=\"[2001:db8::1]:4711\", for=10.3.3.3",
        )];
        assert_eq!(client("10.0.0.1:1", &forwarded, &trusted), "2001:db8::1");
        let unknown = [("forwarded", "for=unknown, for=10.3.3.3")];
        assert_eq!(client("10.0.0.1:1", &unknown, &trusted), "10.3.3.3");
    }

    #[test]
    fn node_forms_parse() {
        assert_eq!(parse_node(" 1.2.3.4 "), Some("1.2.3.4".parse().unwrap()));
        assert_eq!(parse_node("1.2.3.4:80"), Some("1.2.3.4".parse().unwrap()));
        assert_eq!(parse_node("[::1]:80"), Some("::1".parse().unwrap()));
        assert_eq!(parse_node("[::1]"), Some("::1".parse().unwrap()));
        assert_eq!(parse_node("_hidden"), None);
    }

    #[test]
    fn the_walk_is_bounded() {
        let long = vec!["10.9.9.9"; 1000].join(", ");
        let hops = [("x-forwarded-for", long.as_str())];
        // All trusted: the walk stops after MAX_HOPS, on a trusted hop.
        assert_eq!(client("10.0.0.1:1", &hops, &["10.0.0.0/8"]), "10.9.9.9");
    }
}
